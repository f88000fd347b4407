//! Deterministic spoken replies for when no language model is reachable.
//!
//! Every persona × intent × language has two or three short variants; the turn
//! number picks one, so consecutive turns never repeat the same sentence and a
//! replayed call says exactly the same thing. Each reply moves the call forward:
//! it asks for the one detail needed next (order or account number, plan, reason)
//! or closes politely. Nothing here states facts about orders, prices or accounts,
//! because the fallback has no access to them.

use crate::lang::Lang;

use super::intent::{normalize, Intent};
use super::persona::{clean_name, PersonaId};

/// Everything the fallback replier may use for one answer.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'a> {
    pub persona: PersonaId,
    pub intent: Intent,
    pub lang: Lang,
    pub customer_name: Option<&'a str>,
    pub turn: u32,
    pub customer_text: &'a str,
}

/// The no-LLM fallback replier.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateReplier;

/// Marks where ", Omar" (English) or " يا عمر" (Arabic) goes; vanishes without a name.
const NAME: &str = "{n}";
/// Marks where a reference number read out digit by digit goes.
const NUM: &str = "{num}";

impl TemplateReplier {
    pub fn reply(&self, ctx: &ReplyContext) -> String {
        let name = clean_name(ctx.customer_name);
        let number = takes_reference(ctx.intent)
            .then(|| reference_number(ctx.customer_text))
            .flatten();
        let variants = match number {
            Some(_) => noted(ctx.persona, ctx.lang),
            None => templates(ctx.persona, ctx.intent, ctx.lang),
        };
        let idx = ctx.turn as usize % variants.len().max(1);
        let template = variants.get(idx).copied().unwrap_or(match ctx.lang {
            Lang::En => "Sorry{n}, could you say that again?",
            Lang::Ar => "عذراً{n}، هل يمكنك الإعادة؟",
        });
        let name_part = match (name, ctx.lang) {
            (Some(n), Lang::En) => format!(", {n}"),
            (Some(n), Lang::Ar) => format!(" يا {n}"),
            (None, _) => String::new(),
        };
        template
            .replace(NAME, &name_part)
            .replace(NUM, number.as_deref().unwrap_or(""))
    }
}

/// Intents where a number the caller just said is most likely the order or account
/// reference we asked for, so acknowledging it is the useful next step.
fn takes_reference(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::OrderStatus
            | Intent::Billing
            | Intent::Problem
            | Intent::Cancel
            | Intent::Affirm
            | Intent::Other
    )
}

/// The first run of 4–20 digits (spaces or dashes between digit groups allowed, as
/// speech-to-text often splits numbers), spaced out so TTS reads it digit by digit
/// instead of as "five thousand five hundred twelve".
fn reference_number(text: &str) -> Option<String> {
    let norm = normalize(text);
    let chars: Vec<char> = norm.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                digits.push(c);
                i += 1;
            } else if matches!(c, ' ' | '-') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
            {
                i += 1;
            } else {
                break;
            }
        }
        if (4..=20).contains(&digits.len()) {
            let spaced: Vec<String> = digits.chars().map(String::from).collect();
            return Some(spaced.join(" "));
        }
    }
    None
}

fn noted(persona: PersonaId, lang: Lang) -> &'static [&'static str] {
    match (persona, lang) {
        (PersonaId::Support, Lang::En) => &[
            "Thank you{n}, I've noted number {num}. I'm logging your request now, and a specialist will follow up with you shortly.",
            "Got it{n}, number {num}. I've added it to your request, and you'll get an update as soon as it's checked.",
        ],
        (_, Lang::En) => &[
            "Thank you{n}, I've noted number {num}. Our support team will check it and follow up with you shortly.",
            "Got it{n}, number {num}. I'm passing it to our support team so they can look into it.",
        ],
        (PersonaId::Support, Lang::Ar) => &[
            "شكراً{n}، سجلت الرقم {num}. سأسجل طلبك الآن، وسيتابع معك أحد المختصين قريباً.",
            "تمام{n}، الرقم {num}. أضفته إلى طلبك، وستصلك التحديثات فور التحقق منه.",
        ],
        (_, Lang::Ar) => &[
            "شكراً{n}، سجلت الرقم {num}. سيتحقق منه فريق الدعم ويتابع معك قريباً.",
            "تمام{n}، الرقم {num}. سأحوله إلى فريق الدعم ليتابعوا الموضوع.",
        ],
    }
}

fn templates(persona: PersonaId, intent: Intent, lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => templates_en(persona, intent),
        Lang::Ar => templates_ar(persona, intent),
    }
}

fn templates_en(persona: PersonaId, intent: Intent) -> &'static [&'static str] {
    use Intent::*;
    use PersonaId::*;
    match (persona, intent) {
        // ---- Ahmed, reception -----------------------------------------------------
        (Reception, Greeting) => &[
            "Hello{n}, this is Ahmed from reception. How can I help you today?",
            "Hi{n}, welcome! Are you calling about a purchase, an existing order, or a problem with your service?",
        ],
        (Reception, Purchase) => &[
            "Great{n}, our sales team will be happy to help. Which product or plan are you interested in?",
            "Wonderful{n}, Sarah from sales is the right person for that. What would you like to buy?",
        ],
        (Reception, Pricing) => &[
            "Sure{n}, prices depend on the plan you choose. Which plan would you like to know about?",
            "Good question{n}, our sales team has the current prices. Which product are you asking about?",
        ],
        (Reception, Upgrade) => &[
            "Of course{n}, we can look at upgrading your plan. What would you like more of, speed, data, or extra lines?",
            "Happy to help with an upgrade{n}. Which plan are you on at the moment?",
        ],
        (Reception, OrderStatus) => &[
            "I can help you with your order{n}. Could you give me the order number, please?",
            "Sure{n}, let's find your order. What's the order number?",
        ],
        (Reception, Billing) => &[
            "I'm sorry about the trouble with your bill{n}. Could you tell me your account number so our support team can check it?",
            "Let's sort out your billing question{n}. What's your account number, please?",
        ],
        (Reception, Problem) => &[
            "I'm sorry to hear that{n}. Could you tell me briefly what's not working, and your account or order number?",
            "That sounds frustrating{n}, and our support team will help fix it. What's happening exactly, and what's your account number?",
        ],
        (Reception, Complaint) => &[
            "I'm really sorry about your experience{n}. Please tell me what happened, and I'll make sure the right person handles it.",
            "I understand your frustration{n}, and I apologize. Could you tell me what went wrong so we can put it right?",
        ],
        (Reception, Cancel) => &[
            "I understand you'd like to cancel{n}. Could you give me your account number so our support team can take care of it?",
            "Sorry to hear you want to leave{n}. May I have your account number and the reason, so it's handled correctly?",
        ],
        (Reception, Manager) => &[
            "Of course{n}, I'll make sure a supervisor gets your request right away. Could you tell me briefly what it's about?",
            "I understand{n}, I'm escalating this to a senior colleague now. May I have your account number in the meantime?",
        ],
        (Reception, Human) => &[
            "I'm a virtual assistant{n}, and I can get a colleague from our team to help you. What is your call about?",
            "Sure{n}, I'll ask a member of our team to take over. Could you tell me briefly what it's about?",
        ],
        (Reception, Thanks) => &[
            "You're welcome{n}! Is there anything else I can help you with?",
            "My pleasure{n}. Anything else I can do for you today?",
        ],
        (Reception, Goodbye) => &[
            "Thank you for calling{n}, have a great day. Goodbye!",
            "It was a pleasure helping you{n}. Take care, goodbye!",
        ],
        (Reception, Affirm) => &[
            "Great{n}. What would you like to do next?",
            "Perfect{n}, tell me how I can help.",
            "Alright{n}, go ahead, I'm listening.",
        ],
        (Reception, Deny) => &[
            "No problem{n}. Is there something else I can help you with?",
            "Okay{n}. What can I help you with instead?",
        ],
        (Reception, Unclear) => &[
            "Sorry{n}, I didn't catch that. Could you say it again, please?",
            "I'm sorry{n}, the line wasn't clear. Could you repeat that?",
            "Apologies{n}, I missed that. Could you say it once more?",
        ],
        (Reception, Other) => &[
            "I see{n}. Is this about a purchase, an existing order, or a problem with your service?",
            "Thanks for explaining{n}. Could you tell me a bit more so I can get you to the right person?",
            "Understood{n}. How exactly can I help you with that?",
        ],

        // ---- Sarah, sales -----------------------------------------------------------
        (Sales, Greeting) => &[
            "Hi{n}, this is Sarah from sales. What can I help you find today?",
            "Hello{n}, Sarah here from the sales team. Are you looking for a new plan or an upgrade?",
        ],
        (Sales, Purchase) => &[
            "Great choice{n}! Which plan or product would you like, so I can set it up for you?",
            "I'd love to help you with that{n}. Is it for yourself, or for a business?",
            "Wonderful{n}. Which plan do you have in mind, so I can walk you through the next steps?",
        ],
        (Sales, Pricing) => &[
            "The price depends on the plan and contract length{n}. Which plan are you interested in, so I can check the exact price for you?",
            "Happy to go over prices{n}. Are you looking for a monthly plan or a yearly one?",
            "Good question{n}. Which plan should I check the current price and offers for?",
        ],
        (Sales, Upgrade) => &[
            "An upgrade is a great idea{n}. What would you like more of, speed, data, or extra lines?",
            "Sure{n}, I can help you upgrade. Which plan are you on at the moment?",
        ],
        (Sales, OrderStatus) => &[
            "I can note your order{n}. Could you give me the order number so our support team can check its status?",
            "Sure{n}, Mohammed from support can track it for you. What's your order number?",
        ],
        (Sales, Billing) => &[
            "I'm sorry about the billing trouble{n}. Could you give me your account number so our support team can look into it?",
            "Let's get that checked{n}. What's your account number, so Mohammed from support can review the charges with you?",
        ],
        (Sales, Problem) => &[
            "I'm sorry to hear that{n}. Could you tell me a bit more about what's happening, so Mohammed from support can fix it?",
            "That's not the experience we want for you{n}. What exactly isn't working?",
        ],
        (Sales, Complaint) => &[
            "I'm really sorry about that{n}. Please tell me what happened, and I'll make sure it's handled properly.",
            "I hear you{n}, and I apologize. What went wrong, so we can put it right?",
        ],
        (Sales, Cancel) => &[
            "I'm sorry you're thinking of leaving{n}. May I ask what's behind it, in case a better plan would suit you?",
            "I understand{n}. Could you tell me the reason, so our support team can handle the cancellation if you still want it?",
        ],
        (Sales, Manager) => &[
            "Of course{n}, I'll make sure a supervisor gets your request right away. Could you tell me briefly what it's about?",
            "I understand{n}, I'm escalating this to a supervisor now. May I have your account number in the meantime?",
        ],
        (Sales, Human) => &[
            "I'm a virtual assistant{n}, and I can get a colleague from our team to help you. Could you tell me briefly what it's about?",
            "Sure{n}, I'll pass your request to a member of our team. What's the best number to reach you on?",
        ],
        (Sales, Thanks) => &[
            "You're very welcome{n}! Is there anything else I can help you with today?",
            "My pleasure{n}. Would you like to hear about any of our other offers?",
        ],
        (Sales, Goodbye) => &[
            "Thanks for calling{n}, and enjoy your new plan. Goodbye!",
            "It was lovely talking to you{n}. Have a great day, goodbye!",
        ],
        (Sales, Affirm) => &[
            "Perfect{n}, I'll note that down. Could you confirm your full name and phone number?",
            "Great{n}. What's the best email or phone number to send the details to?",
            "Lovely{n}, let's continue. Which option would you like?",
        ],
        (Sales, Deny) => &[
            "No problem{n}. Is there another plan you'd like to hear about?",
            "That's fine{n}. What would suit you better?",
        ],
        (Sales, Unclear) => &[
            "Sorry{n}, I didn't quite catch that. Could you say it again?",
            "I'm sorry{n}, the line broke up a little. Could you repeat that, please?",
            "Apologies{n}, could you say that once more?",
        ],
        (Sales, Other) => &[
            "I see{n}. Are you interested in a new plan, an upgrade, or one of our current offers?",
            "Thanks{n}. Could you tell me a bit more about what you're looking for?",
            "Got it{n}. How can I help you with that?",
        ],

        // ---- Mohammed, support ------------------------------------------------------
        (Support, Greeting) => &[
            "Hello{n}, this is Mohammed from customer support. How can I help you today?",
            "Hi{n}, Mohammed from support here. What can I sort out for you?",
        ],
        (Support, Purchase) => &[
            "Glad to hear that{n}, Sarah from our sales team can help with a new purchase. Which product are you interested in?",
            "Happy to help{n}. Which product or plan would you like, so our sales team gets the details?",
        ],
        (Support, Pricing) => &[
            "Sarah from our sales team has the latest prices{n}. Which plan are you asking about?",
            "I can get you pricing details{n}. Which product or plan would you like to know about?",
        ],
        (Support, Upgrade) => &[
            "An upgrade could help{n}, and our sales team can take it from there. Which plan are you on now?",
            "Sure{n}, let's look at an upgrade. What would you like more of, speed or data?",
        ],
        (Support, OrderStatus) => &[
            "I'll check on your order{n}. Could you give me the order number, please?",
            "Let's track it down{n}. What's your order number?",
        ],
        (Support, Billing) => &[
            "I'll look into your bill{n}. Could you give me your account number and the amount that looks wrong?",
            "Sorry about the billing trouble{n}. What's your account number, and which charge are you asking about?",
        ],
        (Support, Problem) => &[
            "I'm sorry about that{n}, let's fix it. Could you give me your account or order number, and tell me when the problem started?",
            "I understand{n}, I'll help you sort this out. Have you tried restarting the device, and what's your account number?",
            "Thanks for letting me know{n}. Please give me your account number so I can open a ticket and check it.",
        ],
        (Support, Complaint) => &[
            "I'm truly sorry{n}, that shouldn't have happened. Tell me what went wrong and I'll personally make sure it's resolved.",
            "I understand your frustration{n}, and I apologize. Could you give me your account number so I can log a formal complaint and follow up?",
        ],
        (Support, Cancel) => &[
            "I can help with the cancellation{n}. Could you give me your account number, and may I ask the reason?",
            "I understand{n}. Before I process the cancellation, could you confirm your account number?",
        ],
        (Support, Manager) => &[
            "I understand{n}, I'm escalating your call to a supervisor right now. Could you give me your account number in the meantime?",
            "Of course{n}, I've flagged this for a supervisor. While they're being notified, could you tell me briefly what happened?",
        ],
        (Support, Human) => &[
            "I'm a virtual assistant{n}, and I've asked for a human colleague to join. Meanwhile, could you tell me briefly what the issue is?",
            "Understood{n}, I'm requesting a human agent for you now. May I have your account number while you wait?",
        ],
        (Support, Thanks) => &[
            "You're welcome{n}. Is there anything else I can help you with?",
            "Glad I could help{n}. Is there anything else I can check for you?",
        ],
        (Support, Goodbye) => &[
            "Thank you for your patience{n}. Have a good day, goodbye!",
            "Glad we could sort it out{n}. Take care, goodbye!",
        ],
        (Support, Affirm) => &[
            "Alright{n}. Could you give me your account or order number so I can continue?",
            "Okay{n}, thanks. What else can you tell me about the issue?",
            "Great{n}, let's continue. Is there anything else I should know?",
        ],
        (Support, Deny) => &[
            "Okay{n}. What would you like me to do instead?",
            "No problem{n}. How would you like to proceed?",
        ],
        (Support, Unclear) => &[
            "Sorry{n}, I didn't catch that. Could you repeat it, please?",
            "Apologies{n}, the line wasn't clear. Could you say that again?",
            "I'm sorry{n}, I missed that. Could you repeat it a little slower?",
        ],
        (Support, Other) => &[
            "I see{n}. Could you give me your account or order number so I can look into it?",
            "Thanks for explaining{n}. What would you like me to check for you?",
            "Understood{n}. Can you tell me a bit more about the issue?",
        ],
    }
}

fn templates_ar(persona: PersonaId, intent: Intent) -> &'static [&'static str] {
    use Intent::*;
    use PersonaId::*;
    match (persona, intent) {
        // ---- أحمد، الاستقبال -------------------------------------------------------
        (Reception, Greeting) => &[
            "أهلاً وسهلاً{n}، معك أحمد من الاستقبال. كيف يمكنني مساعدتك اليوم؟",
            "مرحباً{n}! هل اتصالك بخصوص شراء، أو طلب سابق، أو مشكلة في الخدمة؟",
        ],
        (Reception, Purchase) => &[
            "رائع{n}، فريق المبيعات سيسعد بمساعدتك. ما المنتج أو الباقة التي تهتم بها؟",
            "جميل جداً{n}، سارة من المبيعات هي الأنسب لذلك. ما الذي تود شراءه بالتحديد؟",
        ],
        (Reception, Pricing) => &[
            "بكل سرور{n}، الأسعار تختلف حسب الباقة. عن أي باقة تود أن تعرف؟",
            "سؤال مهم{n}، فريق المبيعات لديه الأسعار الحالية. عن أي منتج تسأل؟",
        ],
        (Reception, Upgrade) => &[
            "بالتأكيد{n}، يمكننا ترقية باقتك. هل تحتاج سرعة أعلى أم بيانات أكثر أم خطوطاً إضافية؟",
            "يسعدني مساعدتك في الترقية{n}. ما هي باقتك الحالية؟",
        ],
        (Reception, OrderStatus) => &[
            "يمكنني مساعدتك بخصوص طلبك{n}. ما هو رقم الطلب من فضلك؟",
            "بكل سرور{n}، لنبحث عن طلبك. هل يمكنك إعطائي رقم الطلب؟",
        ],
        (Reception, Billing) => &[
            "آسف للإزعاج بخصوص الفاتورة{n}. ما هو رقم حسابك حتى يراجعها فريق الدعم؟",
            "لنحل مسألة الفاتورة{n}. هل يمكنك إعطائي رقم حسابك من فضلك؟",
        ],
        (Reception, Problem) => &[
            "آسف لسماع ذلك{n}. هل يمكنك أن توضح لي المشكلة باختصار، مع رقم الحساب أو الطلب؟",
            "أتفهم انزعاجك{n}، وفريق الدعم سيساعدك في حلها. ما الذي لا يعمل بالضبط، وما رقم حسابك؟",
        ],
        (Reception, Complaint) => &[
            "أعتذر بشدة عن هذه التجربة{n}. ما الذي حدث بالضبط، حتى أتأكد أن الشخص المناسب يتولى الأمر؟",
            "أتفهم استياءك{n} وأعتذر لك. هل يمكنك أن توضح ما الخطأ الذي حصل حتى نصلحه؟",
        ],
        (Reception, Cancel) => &[
            "أتفهم رغبتك في الإلغاء{n}. ما هو رقم حسابك حتى يتولى فريق الدعم الأمر؟",
            "يؤسفنا أنك تريد المغادرة{n}. هل يمكنني معرفة رقم حسابك وسبب الإلغاء؟",
        ],
        (Reception, Manager) => &[
            "بالتأكيد{n}، سأتأكد من وصول طلبك إلى المشرف فوراً. ما موضوع المكالمة باختصار؟",
            "أتفهم ذلك{n}، سأرفع طلبك إلى مسؤول أعلى الآن. هل يمكنني أخذ رقم حسابك في الأثناء؟",
        ],
        (Reception, Human) => &[
            "أنا مساعد افتراضي{n}، ويمكنني طلب زميل من فريقنا لمساعدتك. ما موضوع مكالمتك باختصار؟",
            "بكل تأكيد{n}، سأطلب لك موظفاً من فريقنا. ما هو رقم حسابك ريثما يتم ذلك؟",
        ],
        (Reception, Thanks) => &[
            "العفو{n}! هل هناك شيء آخر يمكنني مساعدتك فيه؟",
            "بكل سرور{n}. هل تحتاج أي شيء آخر اليوم؟",
        ],
        (Reception, Goodbye) => &[
            "شكراً لاتصالك{n}، أتمنى لك يوماً سعيداً. مع السلامة!",
            "سعدت بخدمتك{n}. في أمان الله!",
        ],
        (Reception, Affirm) => &[
            "ممتاز{n}. ما الخطوة التي تود القيام بها الآن؟",
            "تمام{n}، تفضل، كيف يمكنني مساعدتك؟",
            "حسناً{n}، تفضل، أنا أسمعك.",
        ],
        (Reception, Deny) => &[
            "لا مشكلة{n}. هل هناك شيء آخر يمكنني مساعدتك فيه؟",
            "حسناً{n}. بماذا يمكنني مساعدتك إذن؟",
        ],
        (Reception, Unclear) => &[
            "عذراً{n}، لم أسمعك جيداً. هل يمكنك الإعادة من فضلك؟",
            "آسف{n}، الصوت لم يكن واضحاً. هل يمكنك تكرار ما قلت؟",
            "المعذرة{n}، فاتني ما قلته. هل يمكنك قوله مرة أخرى؟",
        ],
        (Reception, Other) => &[
            "فهمت{n}. هل الموضوع يتعلق بشراء، أو بطلب سابق، أو بمشكلة في الخدمة؟",
            "شكراً للتوضيح{n}. هل يمكنك أن تخبرني بالمزيد حتى أوصلك للشخص المناسب؟",
            "حسناً{n}. كيف بالضبط يمكنني مساعدتك في ذلك؟",
        ],

        // ---- سارة، المبيعات --------------------------------------------------------
        (Sales, Greeting) => &[
            "أهلاً{n}، معك سارة من قسم المبيعات. كيف يمكنني مساعدتك اليوم؟",
            "مرحباً{n}، سارة من فريق المبيعات. هل تبحث عن باقة جديدة أم عن ترقية؟",
        ],
        (Sales, Purchase) => &[
            "اختيار رائع{n}! ما الباقة أو المنتج الذي تريده حتى أجهزه لك؟",
            "يسعدني مساعدتك في ذلك{n}. هل الشراء لك شخصياً أم لشركة؟",
            "جميل{n}. ما الباقة التي في بالك، حتى أشرح لك الخطوات التالية؟",
        ],
        (Sales, Pricing) => &[
            "السعر يعتمد على الباقة ومدة الاشتراك{n}. أي باقة تهمك حتى أتحقق لك من سعرها بالضبط؟",
            "يسعدني أن أوضح لك الأسعار{n}. هل تفضل اشتراكاً شهرياً أم سنوياً؟",
            "سؤال جميل{n}. لأي باقة تريد أن أتحقق من السعر والعروض الحالية؟",
        ],
        (Sales, Upgrade) => &[
            "الترقية فكرة ممتازة{n}. ماذا تحتاج أكثر، سرعة أعلى أم بيانات أكثر أم خطوطاً إضافية؟",
            "بالتأكيد{n}، يمكنني مساعدتك في الترقية. ما هي باقتك الحالية؟",
        ],
        (Sales, OrderStatus) => &[
            "يمكنني تسجيل طلبك{n}. ما هو رقم الطلب حتى يتحقق فريق الدعم من حالته؟",
            "بكل سرور{n}، محمد من الدعم يستطيع تتبعه لك. ما رقم الطلب؟",
        ],
        (Sales, Billing) => &[
            "آسفة على مشكلة الفاتورة{n}. ما رقم حسابك حتى يراجعها فريق الدعم؟",
            "دعنا نتحقق من ذلك{n}. ما رقم حسابك، حتى يراجع محمد من الدعم المبالغ معك؟",
        ],
        (Sales, Problem) => &[
            "آسفة لسماع ذلك{n}. هل يمكنك أن توضح لي ما الذي يحدث، حتى يساعدك محمد من الدعم الفني؟",
            "هذه ليست التجربة التي نريدها لك{n}. ما الذي لا يعمل بالضبط؟",
        ],
        (Sales, Complaint) => &[
            "أنا آسفة جداً على ذلك{n}. ما الذي حدث بالضبط، حتى أتأكد أن الأمر يُعالج كما يجب؟",
            "أفهمك تماماً{n}، وأعتذر لك. ما الخطأ الذي حصل حتى نصلحه؟",
        ],
        (Sales, Cancel) => &[
            "يؤسفني أنك تفكر في المغادرة{n}. هل لي أن أعرف السبب، فربما توجد باقة أنسب لك؟",
            "أتفهم ذلك{n}. ما سبب الإلغاء، حتى يتولاه فريق الدعم إذا بقيت راغباً فيه؟",
        ],
        (Sales, Manager) => &[
            "بالتأكيد{n}، سأتأكد أن طلبك يصل إلى المشرف فوراً. ما موضوع المكالمة باختصار؟",
            "أتفهم ذلك{n}، سأرفع الأمر إلى المشرف الآن. هل يمكنني أخذ رقم حسابك في الأثناء؟",
        ],
        (Sales, Human) => &[
            "أنا مساعدة افتراضية{n}، ويمكنني طلب زميل من فريقنا لمساعدتك. ما موضوع المكالمة باختصار؟",
            "بكل سرور{n}، سأحوّل طلبك إلى أحد موظفينا. ما أفضل رقم للتواصل معك؟",
        ],
        (Sales, Thanks) => &[
            "العفو{n}! هل هناك شيء آخر يمكنني مساعدتك فيه اليوم؟",
            "بكل سرور{n}. هل تحب أن أخبرك عن عروض أخرى؟",
        ],
        (Sales, Goodbye) => &[
            "شكراً لاتصالك{n}، وأتمنى أن تستمتع بباقتك الجديدة. مع السلامة!",
            "سعدت بالحديث معك{n}. يومك سعيد، مع السلامة!",
        ],
        (Sales, Affirm) => &[
            "ممتاز{n}، سأسجل ذلك. هل يمكنك تأكيد اسمك الكامل ورقم هاتفك؟",
            "رائع{n}. ما البريد الإلكتروني أو رقم الهاتف الذي أرسل عليه التفاصيل؟",
            "جميل{n}، لنكمل. أي خيار تفضل؟",
        ],
        (Sales, Deny) => &[
            "لا مشكلة{n}. هل تريد أن أعرض عليك باقة أخرى؟",
            "لا بأس{n}. ما الذي يناسبك أكثر؟",
        ],
        (Sales, Unclear) => &[
            "عذراً{n}، لم أسمعك جيداً. هل يمكنك الإعادة؟",
            "آسفة{n}، انقطع الصوت قليلاً. هل يمكنك تكرار ما قلت من فضلك؟",
            "المعذرة{n}، هل يمكنك قولها مرة أخرى؟",
        ],
        (Sales, Other) => &[
            "فهمت{n}. هل تهتم بباقة جديدة، أم بترقية، أم بأحد عروضنا الحالية؟",
            "شكراً{n}. هل يمكنك أن تخبرني أكثر عما تبحث عنه؟",
            "حسناً{n}. كيف يمكنني مساعدتك في ذلك؟",
        ],

        // ---- محمد، الدعم -----------------------------------------------------------
        (Support, Greeting) => &[
            "أهلاً{n}، معك محمد من الدعم وخدمة العملاء. كيف يمكنني مساعدتك اليوم؟",
            "مرحباً{n}، محمد من الدعم. ما الذي يمكنني حله لك؟",
        ],
        (Support, Purchase) => &[
            "يسعدني ذلك{n}، سارة من فريق المبيعات تساعدك في الشراء. ما المنتج الذي تهتم به؟",
            "بكل سرور{n}. ما الباقة أو المنتج الذي تريده، حتى تصل التفاصيل لفريق المبيعات؟",
        ],
        (Support, Pricing) => &[
            "سارة من فريق المبيعات لديها أحدث الأسعار{n}. عن أي باقة تسأل؟",
            "يمكنني أن أوفر لك تفاصيل الأسعار{n}. أي منتج أو باقة تريد أن تعرف عنها؟",
        ],
        (Support, Upgrade) => &[
            "الترقية قد تفيدك{n}، وفريق المبيعات سيكمل معك. ما هي باقتك الحالية؟",
            "بالتأكيد{n}، لنرَ خيارات الترقية. هل تحتاج سرعة أعلى أم بيانات أكثر؟",
        ],
        (Support, OrderStatus) => &[
            "سأتحقق من طلبك{n}. ما هو رقم الطلب من فضلك؟",
            "لنتتبع الطلب معاً{n}. هل يمكنك إعطائي رقم الطلب؟",
        ],
        (Support, Billing) => &[
            "سأراجع فاتورتك{n}. ما رقم حسابك، وما المبلغ الذي تراه غير صحيح؟",
            "آسف على مشكلة الفاتورة{n}. ما رقم حسابك، وعن أي مبلغ تسأل؟",
        ],
        (Support, Problem) => &[
            "آسف على ذلك{n}، لنحل المشكلة معاً. ما رقم حسابك أو طلبك، ومتى بدأت المشكلة؟",
            "أتفهم ذلك{n}، وسأساعدك في حلها. هل جربت إعادة تشغيل الجهاز، وما رقم حسابك؟",
            "شكراً لإبلاغي{n}. ما رقم حسابك حتى أفتح بلاغاً وأتابع المشكلة؟",
        ],
        (Support, Complaint) => &[
            "أعتذر منك بصدق{n}، ما كان يجب أن يحدث هذا. ما الذي حصل بالضبط، حتى أتابع حله بنفسي؟",
            "أتفهم استياءك تماماً{n} وأعتذر لك. ما رقم حسابك حتى أسجل شكوى رسمية وأتابعها؟",
        ],
        (Support, Cancel) => &[
            "يمكنني مساعدتك في الإلغاء{n}. ما رقم حسابك، وهل لي أن أعرف السبب؟",
            "أتفهم ذلك{n}. قبل تنفيذ الإلغاء، هل يمكنك تأكيد رقم حسابك؟",
        ],
        (Support, Manager) => &[
            "أتفهم ذلك{n}، سأرفع مكالمتك إلى المشرف الآن. ما رقم حسابك في الأثناء؟",
            "بالتأكيد{n}، لقد أبلغت المشرف بطلبك. ريثما يتم ذلك، ما الذي حدث باختصار؟",
        ],
        (Support, Human) => &[
            "أنا مساعد افتراضي{n}، وقد طلبت انضمام زميل من فريقنا. في الأثناء، ما المشكلة باختصار؟",
            "مفهوم{n}، سأطلب لك موظفاً الآن. ما رقم حسابك ريثما تنتظر؟",
        ],
        (Support, Thanks) => &[
            "العفو{n}. هل هناك شيء آخر يمكنني مساعدتك فيه؟",
            "سعيد أنني استطعت المساعدة{n}. هل تحتاج أن أتحقق من شيء آخر؟",
        ],
        (Support, Goodbye) => &[
            "شكراً على صبرك{n}. يومك سعيد، مع السلامة!",
            "سعدت بحل الموضوع معك{n}. في أمان الله!",
        ],
        (Support, Affirm) => &[
            "حسناً{n}. ما رقم حسابك أو طلبك حتى أكمل؟",
            "تمام{n}، شكراً. ما التفاصيل الأخرى عن المشكلة؟",
            "ممتاز{n}، لنكمل. هل هناك شيء آخر يجب أن أعرفه؟",
        ],
        (Support, Deny) => &[
            "حسناً{n}. ماذا تفضل أن أفعل بدلاً من ذلك؟",
            "لا مشكلة{n}. كيف تحب أن نكمل؟",
        ],
        (Support, Unclear) => &[
            "عذراً{n}، لم أسمعك جيداً. هل يمكنك الإعادة من فضلك؟",
            "المعذرة{n}، الصوت لم يكن واضحاً. هل يمكنك تكرار ما قلت؟",
            "آسف{n}، فاتني ذلك. هل يمكنك قولها ببطء مرة أخرى؟",
        ],
        (Support, Other) => &[
            "فهمت{n}. ما رقم حسابك أو طلبك حتى أتحقق من الأمر؟",
            "شكراً للتوضيح{n}. ما الذي تريد أن أتحقق منه لك؟",
            "مفهوم{n}. هل يمكنك أن تخبرني المزيد عن المشكلة؟",
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::is_arabic_letter;

    fn ctx<'a>(persona: PersonaId, intent: Intent, lang: Lang, turn: u32) -> ReplyContext<'a> {
        ReplyContext {
            persona,
            intent,
            lang,
            customer_name: None,
            turn,
            customer_text: "",
        }
    }

    fn sentences(s: &str) -> usize {
        s.chars()
            .filter(|c| matches!(c, '.' | '?' | '!' | '؟'))
            .count()
    }

    #[test]
    fn every_persona_intent_and_language_gets_a_fitting_reply() {
        let r = TemplateReplier;
        for persona in PersonaId::ALL {
            for intent in Intent::ALL {
                for turn in 0..6 {
                    let en = r.reply(&ctx(persona, intent, Lang::En, turn));
                    let ar = r.reply(&ctx(persona, intent, Lang::Ar, turn));
                    let at = format!("{persona}/{intent}/{turn}");
                    for s in [&en, &ar] {
                        assert!(!s.trim().is_empty(), "{at}");
                        assert!(!s.contains('{'), "{at}: unfilled placeholder in {s}");
                        assert!(
                            !s.chars()
                                .any(|c| matches!(c, '*' | '#' | '`' | '_' | '\n' | '•')),
                            "{at}: markup in {s}"
                        );
                        assert!(
                            !s.chars().any(|c| c as u32 >= 0x1F000),
                            "{at}: emoji in {s}"
                        );
                        assert!((1..=2).contains(&sentences(s)), "{at}: {s}");
                        assert!(s.chars().count() <= 160, "{at}: too long: {s}");
                    }
                    assert!(!en.chars().any(is_arabic_letter), "{at}: {en}");
                    assert!(en.chars().any(|c| c.is_ascii_alphabetic()), "{at}");
                    assert!(
                        ar.chars().filter(|&c| is_arabic_letter(c)).count() > 10,
                        "{at}: {ar}"
                    );
                    assert!(!ar.chars().any(|c| c.is_ascii_alphabetic()), "{at}: {ar}");
                }
            }
        }
    }

    #[test]
    fn consecutive_turns_never_repeat_and_choice_is_deterministic() {
        let r = TemplateReplier;
        for persona in PersonaId::ALL {
            for intent in Intent::ALL {
                for lang in [Lang::En, Lang::Ar] {
                    for turn in 0..8 {
                        let a = r.reply(&ctx(persona, intent, lang, turn));
                        let b = r.reply(&ctx(persona, intent, lang, turn + 1));
                        assert_ne!(a, b, "{persona}/{intent}/{lang} turn {turn}");
                        assert_eq!(a, r.reply(&ctx(persona, intent, lang, turn)));
                    }
                }
            }
        }
    }

    #[test]
    fn uses_the_customer_name_when_known() {
        let r = TemplateReplier;
        for persona in PersonaId::ALL {
            for intent in Intent::ALL {
                let mut c = ctx(persona, intent, Lang::En, 1);
                c.customer_name = Some(" Omar ");
                let en = r.reply(&c);
                assert!(en.contains(", Omar"), "{en}");
                c.lang = Lang::Ar;
                c.customer_name = Some("عمر");
                let ar = r.reply(&c);
                assert!(ar.contains("يا عمر"), "{ar}");
            }
        }
        let mut c = ctx(PersonaId::Support, Intent::Thanks, Lang::En, 0);
        c.customer_name = Some("{n}<b>");
        assert!(!r.reply(&c).contains('<'));
    }

    #[test]
    fn replies_move_the_call_forward() {
        let r = TemplateReplier;
        for turn in 0..3 {
            let p = r.reply(&ctx(PersonaId::Support, Intent::Problem, Lang::En, turn));
            assert!(p.contains("account") || p.contains("order number"), "{p}");
            let p = r.reply(&ctx(PersonaId::Support, Intent::Problem, Lang::Ar, turn));
            assert!(p.contains("رقم حسابك"), "{p}");
            for persona in PersonaId::ALL {
                let u = r.reply(&ctx(persona, Intent::Unclear, Lang::En, turn));
                assert!(
                    u.contains("again") || u.contains("repeat") || u.contains("once more"),
                    "{u}"
                );
                let u = r.reply(&ctx(persona, Intent::Unclear, Lang::Ar, turn));
                assert!(
                    u.contains("الإعادة") || u.contains("تكرار") || u.contains("مرة أخرى"),
                    "{u}"
                );
            }
        }
    }

    #[test]
    fn acknowledges_a_reference_number_digit_by_digit() {
        let r = TemplateReplier;
        let mut c = ctx(PersonaId::Support, Intent::OrderStatus, Lang::En, 0);
        c.customer_text = "my order is 55-12 98, it never came";
        let s = r.reply(&c);
        assert!(s.contains("5 5 1 2 9 8"), "{s}");

        c.lang = Lang::Ar;
        c.customer_text = "رقم الطلب ٥٥١٢";
        let s = r.reply(&c);
        assert!(s.contains("5 5 1 2"), "{s}");
        assert!(s.chars().any(is_arabic_letter));

        // Short numbers ("2 days") are not references; complaints keep their apology.
        c.customer_text = "صار لي 2 يوم";
        assert!(!r.reply(&c).contains('2'));
        let mut c = ctx(PersonaId::Support, Intent::Complaint, Lang::En, 0);
        c.customer_text = "order 5512 is a disaster";
        assert!(!r.reply(&c).contains("5 5"));
    }
}
