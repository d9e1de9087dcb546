//! How the window's web view draws. On Linux, WebKitGTK composites and paints with OpenGL. On a
//! machine without a GPU (no DRM render node: virtual machines, remote desktops, CI's virtual
//! screen) that OpenGL is Mesa's software rasterizer, and the UI bench (16 panes at 200 tokens/s)
//! then made frames of over a second: the profile showed the web process spending its time in
//! llvmpipe and in compiling shaders. WebKit's own CPU painting does the same work far faster, so
//! there the app turns hardware acceleration off.
//!
//! `MODELBENCH_GPU=on|off` overrides the guess (`on` where a working GPU has no render node the
//! app can see, `off` where the GPU misbehaves).

use std::path::Path;

/// Whether the web view may use the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceleration {
    /// WebKit's default: composited and painted with OpenGL when it can.
    Gpu,
    /// Painted by the CPU, no OpenGL at all.
    Cpu,
}

/// The environment variable that overrides the guess.
pub const OVERRIDE: &str = "MODELBENCH_GPU";

/// Chooses from the override, if any, else from whether a GPU render node exists.
pub fn choose(override_value: Option<&str>, has_render_node: bool) -> Result<Acceleration, String> {
    match override_value.map(str::trim) {
        None | Some("") | Some("auto") => Ok(if has_render_node {
            Acceleration::Gpu
        } else {
            Acceleration::Cpu
        }),
        Some("on" | "1" | "true") => Ok(Acceleration::Gpu),
        Some("off" | "0" | "false") => Ok(Acceleration::Cpu),
        Some(other) => Err(format!("{OVERRIDE}={other} is not one of on, off, auto")),
    }
}

/// Whether `dri` (normally /dev/dri) holds a render node (`renderD128`, …): the device Mesa
/// draws through when a GPU is there.
pub fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// The choice for this process: the override, else the machine's render nodes. A bad override
/// is reported and the guess used.
pub fn for_this_machine() -> Acceleration {
    let value = std::env::var(OVERRIDE).ok();
    let node = has_render_node(Path::new("/dev/dri"));
    choose(value.as_deref(), node).unwrap_or_else(|message| {
        eprintln!("modelbench-app: {message}; guessing from the machine instead");
        choose(None, node).unwrap_or(Acceleration::Gpu)
    })
}

/// Applies `acceleration` to every web view of the app (Linux; elsewhere the platform's web view
/// decides).
#[cfg(target_os = "linux")]
pub fn apply(app: &tauri::App, acceleration: Acceleration) -> tauri::Result<()> {
    use tauri::Manager;
    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};

    if acceleration == Acceleration::Gpu {
        return Ok(());
    }
    for window in app.webview_windows().values() {
        window.with_webview(|webview| {
            if let Some(settings) = webview.inner().settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        })?;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn apply(_app: &tauri::App, _acceleration: Acceleration) -> tauri::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_override_a_render_node_decides() {
        assert_eq!(choose(None, true), Ok(Acceleration::Gpu));
        assert_eq!(choose(None, false), Ok(Acceleration::Cpu));
        assert_eq!(choose(Some("auto"), false), Ok(Acceleration::Cpu));
        assert_eq!(choose(Some(""), true), Ok(Acceleration::Gpu));
    }

    #[test]
    fn the_override_wins_and_a_bad_one_is_named() {
        assert_eq!(choose(Some("on"), false), Ok(Acceleration::Gpu));
        assert_eq!(choose(Some("off"), true), Ok(Acceleration::Cpu));
        assert_eq!(choose(Some(" 0 "), true), Ok(Acceleration::Cpu));
        let error = choose(Some("fast"), true).expect_err("not a value");
        assert!(error.contains("MODELBENCH_GPU=fast"), "{error}");
    }

    #[test]
    fn render_nodes_are_found_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(!has_render_node(dir.path()));
        assert!(!has_render_node(&dir.path().join("missing")));
        std::fs::write(dir.path().join("card0"), b"").expect("card");
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("renderD128"), b"").expect("node");
        assert!(has_render_node(dir.path()));
    }
}
