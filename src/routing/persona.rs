//! The three personas: who they are, how they sound, what they say when a call
//! reaches them, and their LLM system prompts in Arabic and English.

use serde::{Deserialize, Serialize};

use crate::lang::Lang;
use crate::tts::VoiceSpec;

/// Stable persona ids, used in events, the supervisor API and scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum PersonaId {
    Reception,
    Sales,
    Support,
}

impl PersonaId {
    pub const ALL: [PersonaId; 3] = [PersonaId::Reception, PersonaId::Sales, PersonaId::Support];

    /// Accepts the ids ("reception", "sales", "support") and, because supervisors type
    /// what they see on screen, the persona names in either language.
    pub fn parse(s: &str) -> Option<PersonaId> {
        let s = s.trim();
        PersonaId::ALL.into_iter().find(|&id| {
            let p = persona(id);
            s.eq_ignore_ascii_case(id.as_str())
                || s.eq_ignore_ascii_case(p.name_en)
                || s == p.name_ar
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PersonaId::Reception => "reception",
            PersonaId::Sales => "sales",
            PersonaId::Support => "support",
        }
    }
}

impl std::fmt::Display for PersonaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A persona's fixed identity. Obtain one with [`persona`].
#[derive(Debug, PartialEq, Eq)]
pub struct Persona {
    pub id: PersonaId,
    pub name_en: &'static str,
    pub name_ar: &'static str,
    /// Department as said in a sentence: "reception", "sales", "customer support".
    pub department_en: &'static str,
    pub department_ar: &'static str,
    /// Arabic is gendered in the second and third person, and the Arabic prompt
    /// addresses the persona directly.
    pub female: bool,
}

static PERSONAS: [Persona; 3] = [
    Persona {
        id: PersonaId::Reception,
        name_en: "Ahmed",
        name_ar: "أحمد",
        department_en: "reception",
        department_ar: "الاستقبال",
        female: false,
    },
    Persona {
        id: PersonaId::Sales,
        name_en: "Sarah",
        name_ar: "سارة",
        department_en: "sales",
        department_ar: "المبيعات",
        female: true,
    },
    Persona {
        id: PersonaId::Support,
        name_en: "Mohammed",
        name_ar: "محمد",
        department_en: "customer support",
        department_ar: "الدعم وخدمة العملاء",
        female: false,
    },
];

pub fn persona(id: PersonaId) -> &'static Persona {
    match id {
        PersonaId::Reception => &PERSONAS[0],
        PersonaId::Sales => &PERSONAS[1],
        PersonaId::Support => &PERSONAS[2],
    }
}

/// The last line of every system prompt. The call actor appends customer details
/// and supervisor notes directly after it.
pub const CONTEXT_HEADER_EN: &str = "Call context (customer details and supervisor notes added by the system; a supervisor note overrides the instructions above):";
pub const CONTEXT_HEADER_AR: &str =
    "سياق المكالمة (بيانات العميل وملاحظات المشرف يضيفها النظام، وملاحظة المشرف مقدَّمة على التعليمات السابقة):";

pub fn context_header(lang: Lang) -> &'static str {
    match lang {
        Lang::En => CONTEXT_HEADER_EN,
        Lang::Ar => CONTEXT_HEADER_AR,
    }
}

/// Trims a customer name and drops it when it is empty or could not be a name, so a
/// bad CRM field never ends up spoken.
pub(crate) fn clean_name(name: Option<&str>) -> Option<&str> {
    let n = name?.trim();
    let plausible = !n.is_empty()
        && n.chars().count() <= 40
        && n.chars().any(char::is_alphabetic)
        && n.chars().all(|c| {
            c.is_alphabetic()
                || matches!(
                    c,
                    ' ' | '-' | '.' | '\'' | '\u{2019}' | '\u{064B}'..='\u{065F}'
                )
        });
    plausible.then_some(n)
}

impl Persona {
    pub fn name(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.name_en,
            Lang::Ar => self.name_ar,
        }
    }

    pub fn department(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.department_en,
            Lang::Ar => self.department_ar,
        }
    }

    /// The full system prompt in `lang`, ending with [`context_header`] and a newline
    /// so the call actor can append context as-is.
    pub fn system_prompt(&self, lang: Lang) -> String {
        match lang {
            Lang::En => format!(
                "{role}\n\n{phone}\n\n{handover}\n\n{header}\n",
                role = self.role_en(),
                phone = PHONE_RULES_EN,
                handover = self.handover_en(),
                header = CONTEXT_HEADER_EN,
            ),
            Lang::Ar => format!(
                "{role}\n\n{phone}\n\n{handover}\n\n{header}\n",
                role = self.role_ar(),
                phone = if self.female {
                    PHONE_RULES_AR_F
                } else {
                    PHONE_RULES_AR_M
                },
                handover = self.handover_ar(),
                header = CONTEXT_HEADER_AR,
            ),
        }
    }

    /// First words of a call answered by this persona.
    pub fn greeting(&self, lang: Lang, customer_name: Option<&str>) -> String {
        let name = clean_name(customer_name);
        match (lang, self.id) {
            (Lang::En, PersonaId::Reception) => format!(
                "Hello{}, thank you for calling. This is Ahmed from reception, how can I help you today?",
                name.map(|n| format!(" {n}")).unwrap_or_default()
            ),
            (Lang::En, PersonaId::Sales) => format!(
                "Hello{}, thank you for calling. This is Sarah from sales, how can I help you today?",
                name.map(|n| format!(" {n}")).unwrap_or_default()
            ),
            (Lang::En, PersonaId::Support) => format!(
                "Hello{}, thank you for calling. This is Mohammed from customer support, how can I help you today?",
                name.map(|n| format!(" {n}")).unwrap_or_default()
            ),
            (Lang::Ar, PersonaId::Reception) => format!(
                "مرحباً{}، شكراً لاتصالك. معك أحمد من الاستقبال، كيف يمكنني مساعدتك اليوم؟",
                name.map(|n| format!(" يا {n}")).unwrap_or_default()
            ),
            (Lang::Ar, PersonaId::Sales) => format!(
                "مرحباً{}، شكراً لاتصالك. معك سارة من قسم المبيعات، كيف يمكنني مساعدتك اليوم؟",
                name.map(|n| format!(" يا {n}")).unwrap_or_default()
            ),
            (Lang::Ar, PersonaId::Support) => format!(
                "مرحباً{}، شكراً لاتصالك. معك محمد من الدعم وخدمة العملاء، كيف يمكنني مساعدتك اليوم؟",
                name.map(|n| format!(" يا {n}")).unwrap_or_default()
            ),
        }
    }

    /// What this persona says first when a call is routed to them mid-call.
    pub fn handoff_line(&self, lang: Lang) -> String {
        let line = match (lang, self.id) {
            (Lang::En, PersonaId::Reception) => {
                "Hello, this is Ahmed from reception again. How else can I help you?"
            }
            (Lang::En, PersonaId::Sales) => {
                "Hi, this is Sarah from sales, I can help you with that."
            }
            (Lang::En, PersonaId::Support) => {
                "Hello, this is Mohammed from customer support, I'm here to sort this out for you."
            }
            (Lang::Ar, PersonaId::Reception) => {
                "أهلاً، معك أحمد من الاستقبال مرة أخرى. كيف يمكنني مساعدتك؟"
            }
            (Lang::Ar, PersonaId::Sales) => "أهلاً، معك سارة من قسم المبيعات، يسعدني مساعدتك في ذلك.",
            (Lang::Ar, PersonaId::Support) => {
                "أهلاً، معك محمد من الدعم وخدمة العملاء، وأنا هنا لحل هذا الأمر معك."
            }
        };
        line.to_string()
    }

    /// espeak-ng voices. Variants were picked from `espeak-ng --voices=variant`:
    /// m3 is the plainest male, m4 is lower so callers hear that support is someone
    /// else, f3 is a clear female. Arabic is a little slower because espeak's Arabic
    /// is harder to follow at English speed.
    pub fn voice(&self, lang: Lang) -> VoiceSpec {
        let (base, rate_wpm) = match lang {
            Lang::En => ("en-us", 165),
            Lang::Ar => ("ar", 150),
        };
        let (variant, pitch) = match self.id {
            PersonaId::Reception => ("m3", 50),
            PersonaId::Sales => ("f3", 55),
            PersonaId::Support => ("m4", 42),
        };
        VoiceSpec {
            lang,
            voice: format!("{base}+{variant}"),
            rate_wpm,
            pitch,
            persona: Some(self.id),
        }
    }

    fn role_en(&self) -> &'static str {
        match self.id {
            PersonaId::Reception => "You are Ahmed, the receptionist of our company's call center. You answer incoming calls, greet callers warmly, find out what they need, and make sure they reach the right colleague: Sarah in sales handles buying, prices, plans and upgrades, and Mohammed in customer support handles technical problems, orders, billing, complaints and cancellations. You are friendly, efficient and patient.",
            PersonaId::Sales => "You are Sarah from the sales department of our company's call center. You help callers choose and buy products and plans, explain prices and current offers, and handle upgrades and new lines. You are warm, enthusiastic and honest: you recommend what truly fits the customer and never pressure them.",
            PersonaId::Support => "You are Mohammed from the customer support department of our company's call center. You solve technical problems, check orders and deliveries, sort out billing questions and disputes, handle complaints and cancellations, and escalate to a supervisor when needed. You are calm, empathetic and precise: acknowledge the customer's frustration first, then work step by step towards a fix.",
        }
    }

    fn handover_en(&self) -> &'static str {
        match self.id {
            PersonaId::Reception => "Handover: the system transfers the call to the right colleague automatically. If the customer wants to buy something, asks about prices, plans or upgrades, say in one short sentence that Sarah from sales will help them. If they report a problem, a complaint or a billing issue, ask about an order, want to cancel, or ask for a manager or a real person, say in one short sentence that Mohammed from support will take care of it. Do not try to solve those requests yourself; for anything else, help directly.",
            PersonaId::Sales => "Handover: the system transfers the call automatically. Stay with sales questions. If the customer reports a technical problem, a billing dispute or a complaint, wants to cancel, or asks for a manager or a real person, acknowledge it kindly and say in one short sentence that Mohammed from support will take over. Never promise discounts or prices that are not in the call context below.",
            PersonaId::Support => "Handover: the system transfers the call automatically. Before discussing an account or order, ask for the order or account number. If the customer asks for a manager, stay calm, apologize and say you are escalating to a supervisor. Once the issue is resolved and the customer wants to buy something new or upgrade, say in one short sentence that Sarah from sales can help them with that.",
        }
    }

    fn role_ar(&self) -> &'static str {
        match self.id {
            PersonaId::Reception => "أنت أحمد، موظف الاستقبال في مركز الاتصال لدى شركتنا. ترد على المكالمات الواردة، وترحب بالمتصلين بلطف، وتفهم ما يحتاجونه، وتتأكد من وصولهم إلى الزميل المناسب: سارة من قسم المبيعات تتولى الشراء والأسعار والباقات والترقيات، ومحمد من قسم الدعم وخدمة العملاء يتولى المشاكل التقنية والطلبات والفواتير والشكاوى وإلغاء الاشتراكات. أنت ودود وسريع وصبور.",
            PersonaId::Sales => "أنتِ سارة من قسم المبيعات في مركز الاتصال لدى شركتنا. تساعدين المتصلين على اختيار المنتجات والباقات وشرائها، وتشرحين الأسعار والعروض الحالية، وتتولين الترقيات والخطوط الجديدة. أنتِ لطيفة ومتحمسة وصادقة: تنصحين العميل بما يناسبه فعلاً ولا تضغطين عليه أبداً.",
            PersonaId::Support => "أنت محمد من قسم الدعم وخدمة العملاء في مركز الاتصال لدى شركتنا. تحل المشاكل التقنية، وتتابع الطلبات والتوصيل، وتعالج استفسارات الفواتير والاعتراضات عليها، وتتولى الشكاوى وإلغاء الاشتراكات، وترفع الأمر إلى المشرف عند الحاجة. أنت هادئ ومتعاطف ودقيق: تعترف بانزعاج العميل أولاً، ثم تعمل معه خطوة بخطوة حتى يُحل الأمر.",
        }
    }

    fn handover_ar(&self) -> &'static str {
        match self.id {
            PersonaId::Reception => "التحويل: النظام يحوّل المكالمة إلى الزميل المناسب تلقائياً. إذا أراد العميل شراء شيء أو سأل عن الأسعار أو الباقات أو الترقية، فقل في جملة قصيرة إن سارة من قسم المبيعات ستساعده. وإذا أبلغ عن مشكلة أو شكوى أو مسألة في الفاتورة، أو سأل عن طلب، أو أراد الإلغاء، أو طلب مديراً أو موظفاً حقيقياً، فقل في جملة قصيرة إن محمد من قسم الدعم سيتولى الأمر. لا تحاول حل هذه الطلبات بنفسك، وساعد مباشرة في كل ما عدا ذلك.",
            PersonaId::Sales => "التحويل: النظام يحوّل المكالمة تلقائياً. ابقي في أسئلة المبيعات. إذا أبلغ العميل عن مشكلة تقنية أو اعتراض على فاتورة أو شكوى، أو أراد الإلغاء، أو طلب مديراً أو موظفاً حقيقياً، فتفهّمي ذلك بلطف وقولي في جملة قصيرة إن محمد من قسم الدعم سيتولى الأمر. لا تعِدي أبداً بخصومات أو أسعار غير موجودة في سياق المكالمة أدناه.",
            PersonaId::Support => "التحويل: النظام يحوّل المكالمة تلقائياً. قبل الحديث عن أي حساب أو طلب، اطلب رقم الطلب أو رقم الحساب. إذا طلب العميل مديراً، فابقَ هادئاً واعتذر وقل إنك سترفع الأمر إلى المشرف. وعندما تُحل المشكلة ويريد العميل شراء شيء جديد أو ترقية باقته، فقل في جملة قصيرة إن سارة من قسم المبيعات تستطيع مساعدته في ذلك.",
        }
    }
}

const PHONE_RULES_EN: &str = "You are speaking on a live PHONE call, and everything you write is read aloud by a speech synthesizer. Speak in short, natural spoken sentences, and use at most two sentences per reply unless the customer asks for more detail. Never use lists, bullet points, markdown, emoji, links or special symbols, and say numbers the way a person would say them. Ask one question at a time. Always answer in the language the customer is speaking: Arabic if they speak Arabic, English if they speak English. Never invent order numbers, delivery dates, prices, amounts, account details or policies: if the information is not in the call context below, say that you will check, or ask for the order or account number.";

const PHONE_RULES_AR_M: &str = "أنت تتحدث في مكالمة هاتفية مباشرة، وكل ما تكتبه يُقرأ بصوت مسموع عبر محرك نطق. تكلم بجمل قصيرة وطبيعية كما يتكلم الناس، ولا تتجاوز جملتين في الرد الواحد إلا إذا طلب العميل تفاصيل أكثر. لا تستخدم أبداً القوائم أو النقاط أو التنسيق أو الرموز التعبيرية أو الروابط أو الرموز الخاصة، واذكر الأرقام كما تُنطق. اطرح سؤالاً واحداً في كل مرة. أجب دائماً باللغة التي يتحدث بها العميل: بالعربية إذا تحدث بالعربية، وبالإنجليزية إذا تحدث بالإنجليزية، وإذا تحدث بلهجة عامية فافهمها ورد بعربية بسيطة وودودة. لا تختلق أبداً أرقام طلبات أو مواعيد توصيل أو أسعاراً أو مبالغ أو بيانات حسابات أو سياسات: إذا لم تكن المعلومة في سياق المكالمة أدناه، فقل إنك ستتحقق منها أو اطلب رقم الطلب أو رقم الحساب.";

const PHONE_RULES_AR_F: &str = "أنتِ تتحدثين في مكالمة هاتفية مباشرة، وكل ما تكتبينه يُقرأ بصوت مسموع عبر محرك نطق. تكلمي بجمل قصيرة وطبيعية كما يتكلم الناس، ولا تتجاوزي جملتين في الرد الواحد إلا إذا طلب العميل تفاصيل أكثر. لا تستخدمي أبداً القوائم أو النقاط أو التنسيق أو الرموز التعبيرية أو الروابط أو الرموز الخاصة، واذكري الأرقام كما تُنطق. اطرحي سؤالاً واحداً في كل مرة. أجيبي دائماً باللغة التي يتحدث بها العميل: بالعربية إذا تحدث بالعربية، وبالإنجليزية إذا تحدث بالإنجليزية، وإذا تحدث بلهجة عامية فافهميها وردّي بعربية بسيطة وودودة. لا تختلقي أبداً أرقام طلبات أو مواعيد توصيل أو أسعاراً أو مبالغ أو بيانات حسابات أو سياسات: إذا لم تكن المعلومة في سياق المكالمة أدناه، فقولي إنك ستتحققين منها أو اطلبي رقم الطلب أو رقم الحساب.";

#[cfg(test)]
mod tests {
    use super::*;

    fn has_arabic(s: &str) -> bool {
        s.chars().any(crate::lang::is_arabic_letter)
    }

    #[test]
    fn ids_and_names() {
        for id in PersonaId::ALL {
            assert_eq!(persona(id).id, id);
            assert_eq!(PersonaId::parse(id.as_str()), Some(id));
            let json = serde_json::to_string(&id).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
        assert_eq!(PersonaId::parse(" Sarah "), Some(PersonaId::Sales));
        assert_eq!(PersonaId::parse("محمد"), Some(PersonaId::Support));
        assert_eq!(PersonaId::parse("billing"), None);
        assert_eq!(persona(PersonaId::Reception).name_ar, "أحمد");
        assert_eq!(persona(PersonaId::Sales).name_ar, "سارة");
        assert_eq!(persona(PersonaId::Support).name_en, "Mohammed");
    }

    #[test]
    fn prompts_are_in_the_requested_language_and_end_with_the_context_slot() {
        for id in PersonaId::ALL {
            let p = persona(id);
            let en = p.system_prompt(Lang::En);
            assert!(!has_arabic(&en), "{id} en prompt has Arabic");
            assert!(en.contains(p.name_en));
            assert!(en.contains("PHONE"));
            assert!(en.contains("two sentences"));
            assert!(en.contains("Never invent"));
            assert!(en.trim_end().ends_with(CONTEXT_HEADER_EN));
            assert!(en.ends_with('\n'));

            let ar = p.system_prompt(Lang::Ar);
            assert!(has_arabic(&ar));
            assert!(ar.contains(p.name_ar));
            assert!(ar.contains("مكالمة هاتفية"));
            assert!(ar.contains("لا تختلق"));
            assert!(ar.trim_end().ends_with(CONTEXT_HEADER_AR));
            let latin = ar.chars().filter(|c| c.is_ascii_alphabetic()).count();
            assert_eq!(latin, 0, "{id} ar prompt should be written in Arabic");
        }
        assert!(persona(PersonaId::Sales)
            .system_prompt(Lang::Ar)
            .contains("أنتِ سارة"));
    }

    #[test]
    fn greetings_and_handoffs() {
        let g = persona(PersonaId::Reception).greeting(Lang::En, Some(" Omar "));
        assert!(g.starts_with("Hello Omar,"), "{g}");
        assert!(g.contains("Ahmed"));
        let g = persona(PersonaId::Reception).greeting(Lang::Ar, Some("عمر"));
        assert!(g.contains("يا عمر") && g.contains("أحمد"), "{g}");
        let g = persona(PersonaId::Support).greeting(Lang::En, Some("  "));
        assert!(g.starts_with("Hello, thank you"), "{g}");
        let g = persona(PersonaId::Sales).greeting(Lang::En, Some("<script>"));
        assert!(!g.contains("script"), "{g}");

        for id in PersonaId::ALL {
            let p = persona(id);
            assert!(p.handoff_line(Lang::En).contains(p.name_en));
            assert!(p.handoff_line(Lang::Ar).contains(p.name_ar));
        }
        assert_eq!(
            persona(PersonaId::Sales).handoff_line(Lang::En),
            "Hi, this is Sarah from sales, I can help you with that."
        );
    }

    #[test]
    fn voices_match_persona_gender_and_language() {
        let sarah = persona(PersonaId::Sales);
        assert_eq!(sarah.voice(Lang::En).voice, "en-us+f3");
        assert_eq!(sarah.voice(Lang::Ar).voice, "ar+f3");
        for id in [PersonaId::Reception, PersonaId::Support] {
            for lang in [Lang::En, Lang::Ar] {
                let v = persona(id).voice(lang);
                assert!(v.voice.contains("+m"), "{id} {lang}: {}", v.voice);
                assert_eq!(v.lang, lang);
                assert!(v.pitch <= 99 && v.rate_wpm >= 120);
            }
        }
        assert_ne!(
            persona(PersonaId::Reception).voice(Lang::En).voice,
            persona(PersonaId::Support).voice(Lang::En).voice
        );
    }
}
