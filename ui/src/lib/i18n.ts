import type { CauseKind } from '../bindings/CauseKind';
import type { Intent } from '../bindings/Intent';
import type { PersonaId } from '../bindings/PersonaId';
import type { RouteCause } from '../bindings/RouteCause';

export type UiLang = 'en' | 'ar';

export const messages = {
  'app.title': { en: 'Switchboard', ar: 'سويتشبورد' },
  'nav.wall': { en: 'Live calls', ar: 'المكالمات الحية' },
  'nav.tickets': { en: 'Tickets', ar: 'التذاكر' },
  'nav.settings': { en: 'Settings', ar: 'الإعدادات' },
  'wall.empty': { en: 'No live calls. Simulate a caller to see one here.', ar: 'لا توجد مكالمات حية. حاكِ متصلاً لتظهر هنا.' },
  'wall.simulate': { en: 'Simulate a caller', ar: 'محاكاة متصل' },
  'wall.noScenarios': { en: 'No scenarios', ar: 'لا توجد سيناريوهات' },
  'wall.count': { en: '{n} live', ar: '{n} حية' },
  'wall.alerts': { en: '{n} alerts', ar: '{n} تنبيهات' },
  'wall.micCall': { en: 'Call from my microphone', ar: 'مكالمة من الميكروفون' },
  'wall.micCallStarting': { en: 'Opening the microphone…', ar: 'جارٍ فتح الميكروفون…' },
  'desk.dismiss': { en: 'Dismiss', ar: 'إغلاق' },
  'desk.listen': { en: 'Listen in', ar: 'استمع' },
  'desk.stopListening': { en: 'Stop listening', ar: 'أوقف الاستماع' },
  'desk.listening': { en: 'Playing on your speakers', ar: 'تُشغَّل على سماعاتك' },
  'desk.micOn': { en: 'Your microphone is on the line', ar: 'الميكروفون الخاص بك على الخط' },
  'desk.micRetry': { en: 'Use my microphone', ar: 'استخدم الميكروفون' },
  'desk.typeInstead': { en: 'You can still type what the customer should hear.', ar: 'يمكنك مع ذلك كتابة ما يجب أن يسمعه العميل.' },
  'desk.localCall': { en: 'This computer', ar: 'هذا الحاسوب' },
  'state.ai': { en: 'AI', ar: 'ذكاء اصطناعي' },
  'state.supervisor': { en: 'Supervisor', ar: 'المشرف' },
  'state.ended': { en: 'Ended', ar: 'انتهت' },
  'state.pinned': { en: 'Pinned', ar: 'مثبّت' },
  'customer.unknown': { en: 'Unknown caller', ar: 'متصل غير معروف' },
  'persona.reception': { en: 'Ahmed · reception', ar: 'أحمد · الاستقبال' },
  'persona.sales': { en: 'Sarah · sales', ar: 'سارة · المبيعات' },
  'persona.support': { en: 'Mohammed · support', ar: 'محمد · الدعم' },
  'speaker.customer': { en: 'Customer', ar: 'العميل' },
  'speaker.supervisor': { en: 'Supervisor', ar: 'المشرف' },
  'alert.sentiment': { en: 'Negative for {n} turns', ar: 'سلبي منذ {n} أدوار' },
  'alert.keyword': { en: 'Said “{kw}”', ar: 'قال «{kw}»' },
  'alert.toast': { en: 'Alert on call with {who}', ar: 'تنبيه في مكالمة {who}' },
  'call.back': { en: 'Back to wall', ar: 'العودة إلى الحائط' },
  'call.transcript': { en: 'Transcript', ar: 'النص' },
  'call.sentiment': { en: 'Sentiment trend', ar: 'اتجاه المشاعر' },
  'call.latency': { en: 'Response latency', ar: 'زمن الاستجابة' },
  'call.turn': { en: 'Turn', ar: 'الدور' },
  'call.interrupted': { en: 'interrupted', ar: 'مقاطَع' },
  'call.notPlayed': { en: 'not played:', ar: 'لم يُشغَّل:' },
  'call.speaking': { en: 'speaking…', ar: 'يتحدث…' },
  'call.personaChanged': { en: 'Handed to {to} — {why}', ar: 'حُوّلت إلى {to} — {why}' },
  'call.bySupervisor': { en: 'by supervisor', ar: 'بواسطة المشرف' },
  'call.error': { en: '{stage} error', ar: 'خطأ في {stage}' },
  'call.fallback': { en: '{fallback} answered', ar: 'أجاب {fallback}' },
  'call.ticketCreated': { en: 'Ticket created', ar: 'أُنشئت تذكرة' },
  'call.summary': { en: 'Summary', ar: 'الملخص' },
  'call.duration': { en: 'Duration', ar: 'المدة' },
  'call.controls': { en: 'Controls', ar: 'التحكم' },
  'call.takeover': { en: 'Take over', ar: 'استلام المكالمة' },
  'call.handback': { en: 'Hand back to AI', ar: 'إعادة إلى الذكاء الاصطناعي' },
  'call.pin': { en: 'Pin persona', ar: 'تثبيت الشخصية' },
  'call.unpin': { en: 'Unpin', ar: 'إلغاء التثبيت' },
  'call.whisper': { en: 'Whisper to the agent', ar: 'همس للوكيل' },
  'call.whisperSend': { en: 'Send note', ar: 'إرسال الملاحظة' },
  'call.say': { en: 'Say to customer', ar: 'قل للعميل' },
  'call.sayPlaceholder': { en: 'Text spoken in your name', ar: 'نص يُقال باسمك' },
  'call.end': { en: 'End call', ar: 'إنهاء المكالمة' },
  'call.endConfirm': { en: 'Click again to end', ar: 'انقر مرة أخرى للإنهاء' },
  'call.notFound': { en: 'This call is no longer on the wall.', ar: 'لم تعد هذه المكالمة على الحائط.' },
  'call.customerCard': { en: 'Customer card', ar: 'بطاقة العميل' },
  'sup.takeover': { en: 'Supervisor took over', ar: 'استلم المشرف المكالمة' },
  'sup.handback': { en: 'Handed back to AI', ar: 'أُعيدت إلى الذكاء الاصطناعي' },
  'sup.pin': { en: 'Pinned {persona}', ar: 'ثُبّتت {persona}' },
  'sup.unpin': { en: 'Unpinned', ar: 'أُلغي التثبيت' },
  'sup.whisper': { en: 'Whisper', ar: 'همس' },
  'sup.say': { en: 'Supervisor said', ar: 'قال المشرف' },
  'sup.end': { en: 'Supervisor ended the call', ar: 'أنهى المشرف المكالمة' },
  'ticket.create': { en: 'Create ticket from this call', ar: 'إنشاء تذكرة من هذه المكالمة' },
  'ticket.subject': { en: 'Subject', ar: 'الموضوع' },
  'ticket.description': { en: 'Description', ar: 'الوصف' },
  'ticket.department': { en: 'Department', ar: 'القسم' },
  'ticket.priority': { en: 'Priority', ar: 'الأولوية' },
  'ticket.submit': { en: 'Create ticket', ar: 'إنشاء التذكرة' },
  'ticket.created': { en: 'Ticket {id} created', ar: 'أُنشئت التذكرة {id}' },
  'ticket.needCustomer': { en: 'The caller is not in the CRM yet.', ar: 'المتصل غير موجود في النظام بعد.' },
  'ticket.status': { en: 'Status', ar: 'الحالة' },
  'ticket.all': { en: 'All open', ar: 'كل المفتوحة' },
  'ticket.changeStatus': { en: 'Change status', ar: 'تغيير الحالة' },
  'ticket.reason': { en: 'Reason (required)', ar: 'السبب (مطلوب)' },
  'ticket.apply': { en: 'Apply', ar: 'تطبيق' },
  'ticket.history': { en: 'History', ar: 'السجل' },
  'ticket.none': { en: 'No tickets.', ar: 'لا توجد تذاكر.' },
  'ticket.updated': { en: 'Updated', ar: 'آخر تحديث' },
  'ticket.by': { en: 'by {who}', ar: 'بواسطة {who}' },
  'status.open': { en: 'Open', ar: 'مفتوحة' },
  'status.in_progress': { en: 'In progress', ar: 'قيد المعالجة' },
  'status.waiting': { en: 'Waiting', ar: 'بانتظار' },
  'status.resolved': { en: 'Resolved', ar: 'محلولة' },
  'status.closed': { en: 'Closed', ar: 'مغلقة' },
  'dept.support': { en: 'Support', ar: 'الدعم' },
  'dept.sales': { en: 'Sales', ar: 'المبيعات' },
  'dept.billing': { en: 'Billing', ar: 'الفواتير' },
  'dept.reception': { en: 'Reception', ar: 'الاستقبال' },
  'prio.low': { en: 'Low', ar: 'منخفضة' },
  'prio.normal': { en: 'Normal', ar: 'عادية' },
  'prio.high': { en: 'High', ar: 'عالية' },
  'prio.urgent': { en: 'Urgent', ar: 'عاجلة' },
  'cust.title': { en: 'Customer', ar: 'العميل' },
  'cust.name': { en: 'Name', ar: 'الاسم' },
  'cust.phone': { en: 'Phone', ar: 'الهاتف' },
  'cust.email': { en: 'Email', ar: 'البريد الإلكتروني' },
  'cust.tier': { en: 'Tier', ar: 'الفئة' },
  'cust.vip': { en: 'VIP', ar: 'عميل مميز' },
  'cust.language': { en: 'Language', ar: 'اللغة' },
  'cust.save': { en: 'Save', ar: 'حفظ' },
  'cust.saved': { en: 'Customer saved', ar: 'حُفظ العميل' },
  'cust.calls': { en: 'Call history', ar: 'سجل المكالمات' },
  'cust.tickets': { en: 'Tickets', ar: 'التذاكر' },
  'cust.notFound': { en: 'No CRM record for this caller.', ar: 'لا يوجد سجل لهذا المتصل.' },
  'cust.noCalls': { en: 'No past calls.', ar: 'لا توجد مكالمات سابقة.' },
  'lang.en': { en: 'English', ar: 'الإنجليزية' },
  'lang.ar': { en: 'Arabic', ar: 'العربية' },
  'lang.none': { en: 'Not set', ar: 'غير محدد' },
  'settings.language': { en: 'Interface language', ar: 'لغة الواجهة' },
  'settings.alerts': { en: 'Alerts', ar: 'التنبيهات' },
  'settings.threshold': { en: 'Sentiment threshold (−1 … 1)', ar: 'حد المشاعر (−1 … 1)' },
  'settings.turns': { en: 'Consecutive negative customer turns', ar: 'أدوار سلبية متتالية للعميل' },
  'settings.keywords': { en: 'Keywords (one per line)', ar: 'الكلمات المفتاحية (واحدة في كل سطر)' },
  'settings.reset': { en: 'Restore defaults', ar: 'استعادة الافتراضي' },
  'settings.save': { en: 'Save settings', ar: 'حفظ الإعدادات' },
  'settings.saved': { en: 'Settings saved', ar: 'حُفظت الإعدادات' },
  'settings.saveFailed': { en: 'Not saved: {msg}', ar: 'لم تُحفظ: {msg}' },
  'settings.fixFields': { en: 'Correct the marked fields first.', ar: 'صحّح الحقول المعلَّمة أولًا.' },
  'settings.loadFailed': { en: 'Saved settings could not be loaded ({msg}); showing defaults.', ar: 'تعذّر تحميل الإعدادات المحفوظة ({msg})؛ تُعرض القيم الافتراضية.' },
  'settings.providers': { en: 'Providers & models', ar: 'المزوّدون والنماذج' },
  'settings.llmEngine': { en: 'Who writes the agent’s replies', ar: 'من يكتب ردود الوكيل' },
  'llmEngine.qwen2.5-0.5b': { en: 'Local — Qwen2.5 0.5B (on this computer)', ar: 'محلي — Qwen2.5 0.5B (على هذا الحاسوب)' },
  'llmEngine.smollm2-135m': { en: 'Local — SmolLM2 135M (fastest, least accurate)', ar: 'محلي — SmolLM2 135M (الأسرع والأقل دقة)' },
  'llmEngine.server': { en: 'OpenAI-compatible server', ar: 'خادم متوافق مع OpenAI' },
  'llmEngine.templates': { en: 'Built-in replies (no language model)', ar: 'ردود مدمجة (بدون نموذج لغوي)' },
  'settings.llmUrl': { en: 'Language model server (OpenAI-compatible base URL)', ar: 'خادم النموذج اللغوي (عنوان أساسي متوافق مع OpenAI)' },
  'settings.llmNone': { en: 'The agent answers with built-in template replies; no language model runs.', ar: 'يجيب الوكيل بردود مدمجة جاهزة، ولا يعمل أي نموذج لغوي.' },
  'settings.llmModel': { en: 'Model', ar: 'النموذج' },
  'settings.llmTimeout': { en: 'First-token timeout (ms)', ar: 'مهلة أول رمز (ملّي ثانية)' },
  'settings.sttModel': { en: 'Speech recognition model', ar: 'نموذج التعرّف على الكلام' },
  'settings.ttsEnglish': { en: 'English voice', ar: 'الصوت الإنجليزي' },
  'settings.ttsArabic': { en: 'Arabic voice', ar: 'الصوت العربي' },
  'stt.whisper-base': { en: 'Whisper base (multilingual)', ar: 'Whisper base (متعدد اللغات)' },
  'stt.whisper-tiny-en': { en: 'Whisper tiny (English only)', ar: 'Whisper tiny (الإنجليزية فقط)' },
  'tts.piper': { en: 'Piper — Joe (neural, English)', ar: 'Piper — Joe (صوت عصبي، إنجليزي)' },
  'tts.espeak': { en: 'eSpeak NG (built in)', ar: 'eSpeak NG (مدمج)' },
  'settings.turn': { en: 'Turn-taking', ar: 'تبادل الأدوار' },
  'settings.silenceHold': { en: 'Silence that ends the customer’s turn (ms)', ar: 'الصمت الذي يُنهي دور العميل (ملّي ثانية)' },
  'settings.minSpeech': { en: 'Shortest speech that counts (ms)', ar: 'أقصر كلام يُحتسب (ملّي ثانية)' },
  'settings.bargeIn': { en: 'Customer speech that interrupts the agent (ms)', ar: 'كلام العميل الذي يقاطع الوكيل (ملّي ثانية)' },
  'settings.maxTurn': { en: 'Longest turn (ms)', ar: 'أطول دور (ملّي ثانية)' },
  'settings.smartTurn': { en: 'Smart Turn (semantic end of turn)', ar: 'Smart Turn (نهاية الدور حسب المعنى)' },
  'settings.smartTurnHint': { en: 'Ends the turn sooner when the customer sounds finished, and waits when they pause mid-sentence.', ar: 'يُنهي الدور أسرع حين يبدو أن العميل أنهى كلامه، وينتظر حين يتوقف في منتصف الجملة.' },
  'settings.models': { en: 'Local models', ar: 'النماذج المحلية' },
  'settings.modelsHint': { en: 'Speech recognition, voice, end-of-turn and language models that run on this computer. Install a missing one with the command shown.', ar: 'نماذج التعرّف على الكلام والصوت ونهاية الدور والنماذج اللغوية التي تعمل على هذا الحاسوب. ثبّت الناقص منها بالأمر المعروض.' },
  'settings.modelsRefresh': { en: 'Refresh', ar: 'تحديث' },
  'settings.modelsFailed': { en: 'Model status unavailable: {msg}', ar: 'حالة النماذج غير متاحة: {msg}' },
  'settings.modelSize': { en: '{mb} MB', ar: '{mb} ميغابايت' },
  'settings.modelInstall': { en: 'Install with:', ar: 'ثبّته بالأمر:' },
  'modelStatus.installed': { en: 'installed', ar: 'مثبّت' },
  'modelStatus.missing': { en: 'not installed', ar: 'غير مثبّت' },
  'modelKind.stt': { en: 'Speech recognition', ar: 'التعرّف على الكلام' },
  'modelKind.end_of_turn': { en: 'End of turn', ar: 'نهاية الدور' },
  'modelKind.vad': { en: 'Voice activity', ar: 'كشف الكلام' },
  'modelKind.runtime': { en: 'Runtime', ar: 'بيئة التشغيل' },
  'modelKind.tts': { en: 'Voice', ar: 'الصوت' },
  'modelKind.llm': { en: 'Language model', ar: 'نموذج لغوي' },
  'models.notInstalled': { en: '{name} is not installed:', ar: 'النموذج {name} غير مثبّت:' },
  'models.fallbackLlm': { en: 'calls use the built-in replies until it is.', ar: 'تستخدم المكالمات الردود المدمجة إلى أن يُثبَّت.' },
  'models.fallbackStt': { en: 'calls cannot recognize speech and ask the customer to repeat.', ar: 'لا تتعرّف المكالمات على الكلام، فتطلب من العميل أن يعيد.' },
  'models.fallbackTts': { en: 'English replies are spoken by eSpeak NG instead.', ar: 'تُنطق الردود الإنجليزية بصوت eSpeak NG بدلًا منه.' },
  'models.fallbackTurn': { en: 'turns end on silence alone.', ar: 'ينتهي الدور بالصمت وحده.' },
  'settings.audio': { en: 'Audio devices', ar: 'أجهزة الصوت' },
  'settings.input': { en: 'Microphone', ar: 'الميكروفون' },
  'settings.output': { en: 'Speaker', ar: 'مكبّر الصوت' },
  'settings.headset': { en: 'I use a headset (no echo guard on my own calls)', ar: 'أستخدم سماعة رأس (بلا حماية من الصدى في مكالماتي)' },
  'settings.systemDefault': { en: 'System default', ar: 'الافتراضي للنظام' },
  'settings.systemDefaultNamed': { en: 'System default ({name})', ar: 'الافتراضي للنظام ({name})' },
  'settings.deviceMissing': { en: '{name} (not connected)', ar: '{name} (غير متصل)' },
  'settings.devicesFailed': { en: 'Sound devices unavailable: {msg}', ar: 'أجهزة الصوت غير متاحة: {msg}' },
  'settings.keys': { en: 'API keys', ar: 'مفاتيح API' },
  'settings.keysHint': { en: 'Keys are kept in the system keyring, never in the settings file, and are never shown again.', ar: 'تُحفظ المفاتيح في حافظة مفاتيح النظام، ولا تُكتب في ملف الإعدادات، ولا تُعرض مرة أخرى.' },
  'settings.keysFailed': { en: 'Key status unavailable: {msg}', ar: 'حالة المفاتيح غير متاحة: {msg}' },
  'settings.keyNew': { en: 'New value for {name}', ar: 'قيمة جديدة لـ {name}' },
  'settings.keySave': { en: 'Save key', ar: 'حفظ المفتاح' },
  'settings.keyRemove': { en: 'Remove', ar: 'إزالة' },
  'settings.keySaved': { en: 'Key saved in the keyring', ar: 'حُفظ المفتاح في حافظة المفاتيح' },
  'settings.keyRemoved': { en: 'Key removed from the keyring', ar: 'أُزيل المفتاح من حافظة المفاتيح' },
  'settings.keyEnv': { en: 'Environment fallback:', ar: 'البديل من متغيرات البيئة:' },
  'secretStatus.keyring': { en: 'in keyring', ar: 'في حافظة المفاتيح' },
  'secretStatus.environment': { en: 'from environment', ar: 'من متغيرات البيئة' },
  'secretStatus.missing': { en: 'not set', ar: 'غير مُعيَّن' },
  'secret.llm_api_key': { en: 'LLM API key (OpenAI-compatible)', ar: 'مفتاح API للنموذج اللغوي (متوافق مع OpenAI)' },
  'secret.livekit_api_key': { en: 'LiveKit API key', ar: 'مفتاح API لـ LiveKit' },
  'secret.livekit_api_secret': { en: 'LiveKit API secret', ar: 'الرمز السري لـ LiveKit' },
  'secret.deepgram_api_key': { en: 'Deepgram API key (cloud speech recognition)', ar: 'مفتاح API لـ Deepgram (التعرّف السحابي على الكلام)' },
  'secret.elevenlabs_api_key': { en: 'ElevenLabs API key (cloud voices)', ar: 'مفتاح API لـ ElevenLabs (أصوات سحابية)' },
  'invalid.required': { en: 'Required', ar: 'مطلوب' },
  'invalid.choice': { en: 'Not one of the offered choices', ar: 'ليس من الخيارات المعروضة' },
  'invalid.range': { en: 'Must be between {min} and {max}', ar: 'يجب أن يكون بين {min} و{max}' },
  'invalid.url': { en: 'Must start with http:// or https:// and name a server', ar: 'يجب أن يبدأ بـ http:// أو https:// وأن يحدد خادمًا' },
  'invalid.urlCredentials': { en: 'No user name or password in the URL: save the key under API keys', ar: 'لا اسم مستخدم ولا كلمة مرور في العنوان: احفظ المفتاح في قسم مفاتيح API' },
  'invalid.maxTurn': { en: 'Must be longer than the silence that ends a turn', ar: 'يجب أن يكون أطول من الصمت الذي يُنهي الدور' },
  'invalid.keywordLength': { en: 'A keyword is longer than 100 characters', ar: 'إحدى الكلمات المفتاحية أطول من 100 حرف' },
  'common.close': { en: 'Close', ar: 'إغلاق' },
  'common.loading': { en: 'Loading…', ar: 'جارٍ التحميل…' },
  'common.error': { en: 'Error: {msg}', ar: 'خطأ: {msg}' },
  'common.cancel': { en: 'Cancel', ar: 'إلغاء' },
} as const satisfies Record<string, { en: string; ar: string }>;

export type MessageKey = keyof typeof messages;

export function translate(lang: UiLang, key: MessageKey, params?: Record<string, string | number>): string {
  const entry = messages[key];
  let text: string = entry ? entry[lang] || entry.en : key;
  if (params) {
    for (const [k, v] of Object.entries(params)) text = text.split(`{${k}}`).join(String(v));
  }
  return text;
}

export function personaName(lang: UiLang, p: PersonaId | null | undefined): string {
  if (!p) return '';
  const key = `persona.${p}` as MessageKey;
  return key in messages ? translate(lang, key) : p;
}

// Why routing moved a call (`persona_changed.cause`), worded per language. The English
// block reproduces the engine's `why` (src/routing/router.rs, `RouteCause::describe`
// and `Intent::describe`) word for word.
interface CauseText {
  /** Intent names, used as `{what}`. */
  intent: Record<Intent, string>;
  /** `{what}` when a cause names no intent. */
  request: string;
  /** `{what}`: the intent; `{to}`: the department the call went to. */
  kind: Record<CauseKind, string>;
  department: Record<PersonaId, string>;
  /** Wrap the sentence (`{cause}`) when the flag is set. */
  consecutive: string;
  afterSupport: string;
}

export const causeText: Record<UiLang, CauseText> = {
  en: {
    intent: {
      greeting: 'greeting',
      purchase: 'purchase interest',
      pricing: 'pricing question',
      upgrade: 'upgrade interest',
      order_status: 'order status question',
      billing: 'billing issue',
      problem: 'problem report',
      complaint: 'complaint',
      cancel: 'cancellation request',
      manager: 'request for a manager',
      human: 'request for a human agent',
      thanks: 'thanks',
      goodbye: 'goodbye',
      affirm: 'agreement',
      deny: 'refusal',
      unclear: 'unclear speech',
      other: 'other request',
    },
    request: 'request',
    kind: {
      manager_request: 'customer asked for a manager',
      human_request: 'customer asked for a human agent',
      intent_negative: '{what} with negative sentiment',
      intent_falling: '{what} while sentiment is falling',
      intent: '{what}',
      strong_negative: 'strongly negative sentiment',
      negative_falling: 'negative sentiment and falling trend',
      negative: 'negative sentiment',
      falling: 'falling sentiment trend',
      sales_intent: '{what}',
      supervisor_pin: 'supervisor pinned the call to {to}',
    },
    department: { reception: 'reception', sales: 'sales', support: 'support' },
    consecutive: '{cause} on consecutive turns',
    afterSupport: '{cause} with positive sentiment after support',
  },
  ar: {
    intent: {
      greeting: 'تحية',
      purchase: 'رغبة في الشراء',
      pricing: 'سؤال عن الأسعار',
      upgrade: 'رغبة في الترقية',
      order_status: 'استفسار عن حالة الطلب',
      billing: 'مشكلة في الفاتورة',
      problem: 'بلاغ عن مشكلة',
      complaint: 'شكوى',
      cancel: 'طلب إلغاء',
      manager: 'طلب التحدث إلى مدير',
      human: 'طلب التحدث إلى موظف بشري',
      thanks: 'شكر',
      goodbye: 'وداع',
      affirm: 'موافقة',
      deny: 'رفض',
      unclear: 'كلام غير واضح',
      other: 'طلب آخر',
    },
    request: 'طلب',
    kind: {
      manager_request: 'طلب العميل التحدث إلى مدير',
      human_request: 'طلب العميل التحدث إلى موظف بشري',
      intent_negative: '{what} بنبرة سلبية',
      intent_falling: '{what} مع تراجع رضا العميل',
      intent: '{what}',
      strong_negative: 'نبرة سلبية جدًا',
      negative_falling: 'نبرة سلبية مع تراجع رضا العميل',
      negative: 'نبرة سلبية',
      falling: 'تراجع في رضا العميل',
      sales_intent: '{what}',
      supervisor_pin: 'ثبّت المشرف المكالمة على {to}',
    },
    department: { reception: 'الاستقبال', sales: 'المبيعات', support: 'الدعم' },
    consecutive: '{cause} في دورين متتاليين',
    afterSupport: '{cause} بنبرة إيجابية بعد انتهاء الدعم',
  },
};

/** A routing cause in `lang`; `null` for a kind this console does not know yet. */
export function describeCause(lang: UiLang, cause: RouteCause, to: PersonaId): string | null {
  const c = causeText[lang] ?? causeText.en;
  const template: string | undefined = c.kind[cause.kind];
  if (template === undefined) return null;
  const what = cause.intent ? (c.intent[cause.intent] ?? cause.intent) : c.request;
  let text = template.split('{what}').join(what).split('{to}').join(c.department[to] ?? to);
  if (cause.consecutive) text = c.consecutive.split('{cause}').join(text);
  if (cause.after_support) text = c.afterSupport.split('{cause}').join(text);
  return text;
}

/** Why a call changed persona, in `lang`; the engine's English `why` for events recorded
 *  before `cause` existed (or with a cause this console cannot word). */
export function personaChangeWhy(lang: UiLang, change: { to: PersonaId; why: string; cause?: RouteCause | null }): string {
  return (change.cause && describeCause(lang, change.cause, change.to)) || change.why;
}
