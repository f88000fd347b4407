fn main() {
    // tauri.conf.json lives at the repository root (see FACTS.md); paths inside it are
    // relative to it.
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri build configuration");
}
