//! Drives the routing module the way the call actor does: classify each customer
//! turn, feed the router, speak a hand-off line on a change, then reply.

use switchboard::lang::{detect, Lang};
use switchboard::routing::{
    classify_intent, persona, ChangeReason, Intent, PersonaChange, PersonaId, ReplyContext, Router,
    RoutingPolicy, TemplateReplier,
};

struct Call {
    router: Router,
    replier: TemplateReplier,
    changes: Vec<PersonaChange>,
    said: Vec<String>,
}

impl Call {
    fn new() -> Call {
        Call {
            router: Router::new(RoutingPolicy::default()),
            replier: TemplateReplier,
            changes: Vec::new(),
            said: Vec::new(),
        }
    }

    fn turn(&mut self, turn: u32, text: &str, score: f32, trend: f32) -> Intent {
        let lang = detect(text, Lang::En);
        let intent = classify_intent(text, lang);
        if let Some(change) = self.router.observe(turn, intent, score, trend) {
            self.said.push(persona(change.to).handoff_line(lang));
            self.changes.push(change);
        }
        let ctx = ReplyContext {
            persona: self.router.current(),
            intent,
            lang,
            customer_name: Some("Omar"),
            turn,
            customer_text: text,
        };
        self.said.push(self.replier.reply(&ctx));
        intent
    }
}

#[test]
fn arabic_call_reception_sales_support() {
    let mut call = Call::new();
    let p = persona(PersonaId::Reception);
    call.said.push(p.greeting(Lang::Ar, Some("Omar")));

    assert_eq!(
        call.turn(1, "بدي اشتري باقة انترنت", 0.2, 0.1),
        Intent::Purchase
    );
    assert_eq!(call.router.current(), PersonaId::Sales);
    call.turn(2, "قديش سعرها بالشهر؟", 0.0, 0.1);
    call.turn(3, "تمام", 0.3, 0.2);
    assert_eq!(call.router.current(), PersonaId::Sales);
    // Angry complaint: straight to support.
    call.turn(
        4,
        "بس انتو نصابين، الراوتر القديم خربان من امبارح",
        -0.8,
        -0.4,
    );
    assert_eq!(call.router.current(), PersonaId::Support);
    call.turn(5, "رقم الحساب ٤٤٥٦٧٨", 0.0, -0.3);
    assert_eq!(call.router.current(), PersonaId::Support);

    let whys: Vec<&str> = call.changes.iter().map(|c| c.why.as_str()).collect();
    assert_eq!(
        whys,
        ["purchase interest", "complaint with negative sentiment"]
    );
    assert!(call.changes.iter().all(|c| c.reason == ChangeReason::Rule));
    for line in &call.said {
        assert!(
            line.chars().any(switchboard::lang::is_arabic_letter),
            "{line}"
        );
    }
    assert!(call.said.iter().any(|l| l.contains("4 4 5 6 7 8")));
}

#[test]
fn english_call_with_supervisor_pin() {
    let mut call = Call::new();
    assert_eq!(
        call.turn(1, "how much is the premium plan", 0.0, 0.0),
        Intent::Pricing
    );
    assert_eq!(call.router.current(), PersonaId::Sales);

    let pinned = call.router.pin(PersonaId::Sales);
    assert_eq!(pinned, None);
    assert_eq!(
        call.turn(2, "I want to speak to a manager", -0.3, -0.2),
        Intent::Manager
    );
    assert_eq!(call.router.current(), PersonaId::Sales, "pinned");
    assert!(call.router.unpin());
    call.turn(3, "I said I want to speak to a manager!", -0.4, -0.3);
    assert_eq!(call.router.current(), PersonaId::Support);

    let json = serde_json::to_string(&call.changes[1]).unwrap_or_default();
    assert!(json.contains("\"to\":\"support\""), "{json}");
    for line in &call.said {
        assert!(
            !line.chars().any(switchboard::lang::is_arabic_letter),
            "{line}"
        );
        assert!(!line.is_empty());
    }
    assert!(persona(PersonaId::Support)
        .system_prompt(Lang::En)
        .contains("Mohammed"));
}
