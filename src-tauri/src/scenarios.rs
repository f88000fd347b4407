//! Simulated callers shipped inside the app, so the wall is alive offline.

pub struct Shipped {
    pub id: &'static str,
    pub title: &'static str,
    pub lang: &'static str,
    pub json: &'static str,
}

pub const SCENARIOS: &[Shipped] = &[
    Shipped {
        id: "demo",
        title: "Rana — prices, a broken router, a manager (Arabic + English)",
        lang: "auto",
        json: include_str!("../../scenarios/demo.json"),
    },
    Shipped {
        id: "sales_en",
        title: "James — buying the premium plan (English)",
        lang: "en",
        json: include_str!("../../scenarios/sales_en.json"),
    },
    Shipped {
        id: "support_ar",
        title: "خالد — internet down, asks for the manager (Arabic)",
        lang: "ar",
        json: include_str!("../../scenarios/support_ar.json"),
    },
];

pub fn find(id: &str) -> Option<&'static Shipped> {
    SCENARIOS.iter().find(|s| s.id == id)
}
