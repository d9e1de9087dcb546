//! Embeds `tauri.conf.json`, the capabilities and the icons. `build.frontendDist` (`../ui/dist`)
//! must exist: run `npm --prefix ui ci && npm --prefix ui run build` first (scripts/test does).

fn main() {
    tauri_build::build();
}
