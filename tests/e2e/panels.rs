//! Blind panels through the CLI against fakecloud: a session on three clouds (two of them sending
//! the same answers over different wire formats), a panel created from it, its packets filled in
//! a browser DOM (jsdom, with the packets' own keyboard shortcuts and Save button) by three raters
//! with scripted choices, imported, and the results those choices imply. Every packet is grepped
//! for every target name, provider, model id and region.

use std::path::{Path, PathBuf};

use fakecloud::{Config, FakeCloud};
use modelbench_engine::{ProviderKind, Target};
use serde_json::Value;

use crate::cli::cli;
use modelbench_e2e::FAKE_KEYS;

/// Three targets: two that answer with `quokka` (OpenAI's and Anthropic's wire formats), one that
/// answers with the longer `wombatwombat` (Bedrock's event stream, in a region).
fn targets(base: &str) -> Vec<Target> {
    let mut openai = Target::new(
        "acme-gpt-openai",
        ProviderKind::OpenAi,
        "gpt-5.4~answer=echo;text=quokka",
    );
    openai.base_url = Some(format!("{base}/v1"));
    let mut anthropic = Target::new(
        "acme-claude-anthropic",
        ProviderKind::Anthropic,
        "claude-opus-4-7~answer=echo;text=quokka",
    );
    anthropic.base_url = Some(base.to_owned());
    let mut bedrock = Target::new(
        "acme-nova-bedrock",
        ProviderKind::Bedrock,
        "us.amazon.nova-pro-v1:0~answer=echo;text=wombatwombat",
    );
    bedrock.base_url = Some(base.to_owned());
    bedrock.region = Some("us-east-1".into());
    vec![openai, anthropic, bedrock]
}

const SUITE: &str = "name: panel suite\ndefaults:\n  parameters:\n    max_output_tokens: 64\nprompts:\n  - \"Question {{n}}: tell me about marsupials.\"\ntests:\n  - {id: q1, vars: {n: 1}}\n  - {id: q2, vars: {n: 2}}\n  - {id: q3, vars: {n: 3}}\n  - {id: q4, vars: {n: 4}}\n";

struct World {
    _cloud: FakeCloud,
    data: tempfile::TempDir,
    targets: Vec<Target>,
    session: String,
}

impl World {
    async fn start() -> Self {
        let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
        let data = tempfile::tempdir().expect("tempdir");
        let targets = targets(&cloud.base_url());
        let targets_file = data.path().join("targets.toml");
        std::fs::write(&targets_file, modelbench_engine::target::targets_to_toml(&targets)).expect("targets");
        let suite = data.path().join("suite.yaml");
        std::fs::write(&suite, SUITE).expect("suite");
        let mut world = Self {
            _cloud: cloud,
            data,
            targets,
            session: String::new(),
        };
        let run = world
            .json(&[
                "session",
                "run",
                &suite.display().to_string(),
                "--targets",
                &targets_file.display().to_string(),
                "--json",
            ])
            .await;
        assert_eq!(run["status"], "completed", "{run}");
        world.session = run["session_id"].as_str().expect("session id").to_owned();
        world
    }

    async fn modelbench(&self, args: &[&str]) -> std::process::Output {
        cli(self.data.path(), args, FAKE_KEYS, None).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        let output = self.modelbench(args).await;
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
    }

    /// `panel create` with `options`; the panel's id and its packets by rater.
    async fn create(&self, folder: &str, options: &[&str]) -> (String, Vec<(String, PathBuf)>) {
        let output = self.data.path().join(folder);
        let output_text = output.display().to_string();
        let mut args = vec!["panel", "create", &self.session, "-o", &output_text, "--json"];
        args.extend_from_slice(options);
        let created = self.json(&args).await;
        let packets = created["packets"]
            .as_array()
            .expect("packets")
            .iter()
            .map(|packet| {
                (
                    packet["rater"].as_str().expect("rater").to_owned(),
                    PathBuf::from(packet["path"].as_str().expect("path")),
                )
            })
            .collect();
        (created["id"].as_str().expect("id").to_owned(), packets)
    }
}

/// Fills `packet` with `strategy` in jsdom and returns the ratings file it saved.
fn fill(packet: &Path, strategy: &str) -> PathBuf {
    let out = packet.with_extension(format!("{}.json", strategy.replace(':', "-")));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("panel/fill-packet.mjs");
    let status = std::process::Command::new("node")
        .arg(&script)
        .arg(packet)
        .arg(strategy)
        .arg(&out)
        .status()
        .expect("node runs (Node.js is part of the project's setup)");
    assert!(status.success(), "filling {} with {strategy}", packet.display());
    out
}

/// The packet's data block, as the page reads it.
fn packet_data(packet: &Path) -> Value {
    let html = std::fs::read_to_string(packet).expect("packet");
    let start = html.find("id=\"packet-data\">").expect("data block") + "id=\"packet-data\">".len();
    let end = start + html[start..].find("</script>").expect("end of data");
    serde_json::from_str(&html[start..end]).expect("packet data is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_name_no_cloud_and_show_the_same_answer_identically_whichever_cloud_sent_it() {
    let world = World::start().await;
    let (_, packets) = world
        .create("blind", &["--pairwise", "--raters", "alice,bob,carol"])
        .await;
    let (_, rubric) = world
        .create("rubric", &["--rubric", "accuracy,clarity", "--raters", "dana"])
        .await;
    assert_eq!(packets.len(), 3);
    let mut tells: Vec<String> = Vec::new();
    for target in &world.targets {
        tells.push(target.name.clone());
        tells.push(target.provider.as_str().to_owned());
        tells.push(target.model.clone());
        tells.push(target.model.split('~').next().expect("model id").to_owned());
        tells.extend(target.region.clone());
    }
    tells.extend(["acme", "nova", "claude", "gpt-5", "amazon", "us-east"].map(str::to_owned));
    for (_, packet) in packets.iter().chain(&rubric) {
        let html = std::fs::read_to_string(packet).expect("packet").to_lowercase();
        for tell in &tells {
            assert!(
                !html.contains(&tell.to_lowercase()),
                "{} gives away '{tell}'",
                packet.display()
            );
        }
        let name = packet.file_name().expect("name").to_string_lossy().to_lowercase();
        assert!(tells.iter().all(|tell| !name.contains(&tell.to_lowercase())), "{name}");
    }
    // Every item shows two answers; where both came from the `quokka` clouds (OpenAI's SSE and
    // Anthropic's events), they are the same text.
    let data = packet_data(&packets[0].1);
    let items = data["items"].as_array().expect("items");
    assert_eq!(items.len(), 4 * 3, "every pair of three targets on four tests");
    let mut identical = 0;
    for item in items {
        let texts: Vec<&str> = item["answers"]
            .as_array()
            .expect("answers")
            .iter()
            .map(|answer| answer["text"].as_str().expect("text"))
            .collect();
        assert_eq!(texts.len(), 2);
        if texts.iter().all(|text| text.contains("quokka")) {
            assert_eq!(texts[0], texts[1], "the same answer from two clouds looks the same");
            identical += 1;
        }
    }
    assert_eq!(identical, 4);
    // Each pair is shown both ways round across raters.
    let orders = |packet: &Path| -> Vec<(String, String)> {
        packet_data(packet)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                let prompt = item["prompt"]["messages"][0]["content"]
                    .as_str()
                    .expect("prompt")
                    .to_owned();
                let first = item["answers"][0]["text"].as_str().expect("first").to_owned();
                (prompt, first)
            })
            .collect()
    };
    let alice: std::collections::HashSet<_> = orders(&packets[0].1).into_iter().collect();
    let bob: std::collections::HashSet<_> = orders(&packets[1].1).into_iter().collect();
    assert!(alice != bob, "bob sees some pairs the other way round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_raters_fill_their_packets_and_the_panel_shows_what_their_choices_imply() {
    let world = World::start().await;
    let (panel, packets) = world
        .create("blind", &["--pairwise", "--raters", "alice,bob,carol"])
        .await;
    let files: Vec<PathBuf> = packets
        .iter()
        .map(|(_, packet)| fill(packet, "prefer:quokka"))
        .collect();
    let mut args = vec!["panel", "import", "--json"];
    let names: Vec<String> = files.iter().map(|file| file.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let imported = world.json(&args).await;
    assert_eq!(imported.as_array().expect("imports").len(), 3);
    let status = world.json(&["panel", "status", &panel, "--json"]).await;
    for rater in status[0]["raters"].as_array().expect("raters") {
        assert_eq!(rater["rated"], 12, "{rater}");
        assert_eq!(rater["items"], 12);
    }

    // What the choices imply: the two `quokka` targets tie with each other and beat the third
    // every time, for every rater.
    let shown = world.json(&["panel", "show", &panel, "--json"]).await;
    let targets = shown["targets"].as_array().expect("targets");
    let by_name = |name: &str| {
        targets
            .iter()
            .find(|target| target["target"] == name)
            .unwrap_or_else(|| panic!("no {name} in {shown}"))
    };
    for quokka in ["acme-gpt-openai", "acme-claude-anthropic"] {
        let target = by_name(quokka);
        assert_eq!(
            (
                &target["comparisons"],
                &target["wins"],
                &target["ties"],
                &target["losses"]
            ),
            (&Value::from(24), &Value::from(12), &Value::from(12), &Value::from(0)),
            "{target}"
        );
        assert_eq!(target["rank"], 1, "{target}");
        assert_eq!(target["win_rate"]["value"], 0.75);
    }
    let wombat = by_name("acme-nova-bedrock");
    assert_eq!(
        (&wombat["wins"], &wombat["losses"]),
        (&Value::from(0), &Value::from(24))
    );
    assert_eq!(
        wombat["rank"], 3,
        "both others' intervals lie wholly above it: {wombat}"
    );
    assert_eq!(targets[2]["target"], "acme-nova-bedrock", "best first");
    assert_eq!(shown["agreement"]["level"], "nominal");
    assert_eq!(shown["agreement"]["alpha"], 1.0, "three raters who always agree");
    assert_eq!(shown["agreement"]["units"], 12);
    assert_eq!(shown["position_bias"]["decided"], 24);
    for rater in shown["rater_agreement"].as_array().expect("raters") {
        assert_eq!(rater["agreement"]["chance_level"], false, "{rater}");
    }

    // An LLM judge that prefers longer answers, compared with the panel on the same items:
    // it agrees on the 4 ties and picks the longer `wombatwombat` on the other 8, so agreement
    // is 4/12 and Cohen's kappa (1/3 − 1/9) / (1 − 1/9) = 0.25.
    let mut judge = Target::new("panel-judge", ProviderKind::OpenAi, "gpt-5.4~answer=judge");
    judge.base_url = Some(format!("{}/v1", world._cloud.base_url()));
    let judge_file = world.data.path().join("judge.toml");
    std::fs::write(&judge_file, modelbench_engine::target::targets_to_toml(&[judge])).expect("judge");
    let judged = world
        .modelbench(&[
            "judge",
            &world.session,
            "--judge",
            "panel-judge",
            "--targets",
            &judge_file.display().to_string(),
            "--pairwise",
            "--json",
        ])
        .await;
    assert!(judged.status.success(), "{}", String::from_utf8_lossy(&judged.stderr));
    let shown = world.json(&["panel", "show", &panel, "--json"]).await;
    let judge = &shown["judges"][0];
    assert_eq!(judge["judge"], "panel-judge", "{shown}");
    assert_eq!(judge["items"], 12);
    assert!((judge["agreement"].as_f64().expect("agreement") - 4.0 / 12.0).abs() < 1e-12);
    assert!(
        (judge["kappa"].as_f64().expect("kappa") - 0.25).abs() < 1e-12,
        "{judge}"
    );

    // A file edited after saving, or signed by another packet, is refused, and nothing changes.
    let text = std::fs::read_to_string(&files[0]).expect("ratings");
    let tampered = world.data.path().join("tampered.json");
    std::fs::write(
        &tampered,
        text.replacen("\\\"choice\\\":\\\"tie\\\"", "\\\"choice\\\":\\\"A\\\"", 1),
    )
    .expect("write");
    let refused = world
        .modelbench(&["panel", "import", &tampered.display().to_string()])
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("signature does not match"), "{stderr}");
}
