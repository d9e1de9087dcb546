//! Rating in the app, through the workbench as the desktop shell calls it: a session on fakecloud
//! with a real SQLite file, a panel rated one item at a time, compared with the same choices
//! imported as ratings files, and the blindness of what the Rate view receives.

use std::sync::Arc;
use std::time::Duration;

use fakecloud::{Config, FakeCloud, Scenario};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::panel::{self, PanelKind, RATINGS_FORMAT, RatingsFile, RatingsPayload, RawRating, Shown};
use modelbench_engine::{ProviderKind, RunId, Target};
use modelbench_workbench::panel::PanelRequest;
use modelbench_workbench::panel::rate::{Choice, GivenRating, RatingItem};
use modelbench_workbench::session::live::SessionMessage;
use modelbench_workbench::session::suites::SessionRequest;
use modelbench_workbench::{Workbench, data_dir};

const SUITE: &str = "name: capitals\nprompts:\n  - \"What is the capital of {{country}}?\"\ntests:\n  - id: fr\n    vars: {country: France}\n  - id: de\n    vars: {country: Germany}\n  - id: it\n    vars: {country: Italy}\n  - id: es\n    vars: {country: Spain}\n";

/// Two targets on two models, one terse and one that says more.
const TARGETS: [(&str, &str, &str); 2] = [
    ("acme-terse", "model-alpha-7", "Paris."),
    (
        "zeta-verbose",
        "model-beta-9",
        "The capital is the city where the government sits, as any atlas says.",
    ),
];

struct Setup {
    _cloud: FakeCloud,
    _directory: tempfile::TempDir,
    workbench: Workbench,
    session_id: RunId,
}

/// A completed session of the four-test suite on both targets.
async fn session() -> Setup {
    let cloud = FakeCloud::start(Config {
        scenarios: TARGETS
            .iter()
            .map(|(_, model, text)| {
                (
                    (*model).to_owned(),
                    Scenario {
                        time_to_first_token: Duration::from_millis(2),
                        text: Some((*text).to_owned()),
                        ..Scenario::default()
                    },
                )
            })
            .collect(),
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = data_dir::open_store(directory.path()).expect("a database");
    let credentials = StaticCredentials::new().with("OPENAI_API_KEY", Secret::new("fake-key"));
    let workbench = Workbench::new(Arc::new(store), Arc::new(credentials)).expect("workbench");
    for (name, model, _) in TARGETS {
        let mut target = Target::new(name, ProviderKind::OpenAi, model);
        target.base_url = Some(format!("{}/v1", cloud.base_url()));
        workbench.store().save_target(&target).expect("saved");
    }
    let path = directory.path().join("capitals.yaml");
    std::fs::write(&path, SUITE).expect("write");
    let suite = workbench.import_suite(&path).expect("imported");
    let plan = workbench
        .plan_session(&SessionRequest {
            suite_hash: suite.hash,
            targets: TARGETS.iter().map(|(name, _, _)| (*name).to_owned()).collect(),
            repeat: 1,
            concurrency: 2,
            budget_usd: None,
        })
        .expect("a plan");
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let session_id = workbench
        .start_session_live(plan, move |message: SessionMessage| {
            let _ = sender.send(message);
        })
        .expect("started");
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(message) = receiver.recv().await {
            if let SessionMessage::Finished { status, .. } = message {
                assert_eq!(status, "completed");
                return;
            }
            assert!(!matches!(message, SessionMessage::Failed { .. }), "{message:?}");
        }
    })
    .await
    .expect("the session ends within 30 s");
    Setup {
        _cloud: cloud,
        _directory: directory,
        workbench,
        session_id,
    }
}

/// The scripted rater: the longer answer wins, except on the Spain test, a tie.
fn choose(item: &RatingItem) -> Choice {
    if item.prompt.messages.iter().any(|turn| turn.content.contains("Spain")) {
        return Choice::Tie;
    }
    if item.answers[0].text.len() > item.answers[1].text.len() {
        Choice::A
    } else {
        Choice::B
    }
}

/// Rates every item of `rater` in the app, the scripted way; returns every item seen.
fn rate_all_in_app(workbench: &Workbench, panel_id: &str, rater: &str) -> Vec<RatingItem> {
    let mut seen = Vec::new();
    let mut item = workbench.join_panel(panel_id, rater).expect("joined");
    assert_eq!((item.n, item.rated, item.next_unrated), (1, 0, Some(1)));
    loop {
        let given = GivenRating {
            choice: Some(choose(&item)),
            reason: Some("says more".to_owned()),
            ..GivenRating::default()
        };
        let saved = workbench.rate_item(panel_id, rater, item.n, &given).expect("rated");
        assert_eq!(saved.given.as_ref(), Some(&given), "saved as given");
        assert_eq!(saved.rated, item.rated + 1);
        seen.push(saved.clone());
        match saved.next_unrated {
            Some(n) => item = workbench.rating_item(panel_id, rater, n).expect("next"),
            None => return seen,
        }
    }
}

/// The ratings file `rater`'s packet of `panel_id` would save with the scripted choices, made
/// from the stored plan (which target each label shows) rather than from the texts.
fn ratings_file(workbench: &Workbench, panel_id: &str, rater: &str) -> String {
    let loaded = workbench.load_panel(panel_id).expect("panel");
    let (packet, shown) = loaded
        .packets
        .iter()
        .find(|(row, _)| row.rater == rater)
        .expect("the rater's packet");
    let session = workbench
        .load_session(&loaded.row.session_id.to_string())
        .expect("session");
    let verbose_target = 1;
    let ratings = shown
        .iter()
        .enumerate()
        .map(|(position, view): (usize, &Shown)| {
            let item = &loaded.items[view.item as usize];
            let case = &session.suite.suite.cases()[item.case_index as usize];
            let choice = if case.test_id == "es" {
                "tie"
            } else if item.answers[view.order[0] as usize].target_index == verbose_target {
                "A"
            } else {
                "B"
            };
            RawRating {
                n: position as u32 + 1,
                choice: Some(choice.to_owned()),
                scores: None,
                reason: Some("says more".to_owned()),
                rated_at: None,
            }
        })
        .collect();
    let payload = serde_json::to_string(&RatingsPayload {
        format: RATINGS_FORMAT.to_owned(),
        panel: loaded.row.id.clone(),
        packet: packet.id.clone(),
        rater: rater.to_owned(),
        kind: PanelKind::Pairwise,
        saved_at: None,
        ratings,
    })
    .expect("json");
    let signature = panel::sign(&payload, &packet.token).expect("signed");
    serde_json::to_string(&RatingsFile {
        format: RATINGS_FORMAT.to_owned(),
        payload,
        signature,
    })
    .expect("json")
}

#[tokio::test]
async fn ratings_given_in_the_app_count_exactly_like_an_imported_ratings_file() {
    let setup = session().await;
    let workbench = &setup.workbench;
    let session = setup.session_id.to_string();
    assert_eq!(workbench.session_leaderboard(&session).expect("leaderboard"), None);

    // In the app: alice creates the panel, bob joins it later.
    let created = workbench
        .create_rating_panel(&session, PanelKind::Pairwise, "alice")
        .expect("created");
    assert_eq!((created.items, created.raters.len()), (4, 1));
    assert_eq!(
        workbench.session_leaderboard(&session).expect("leaderboard"),
        None,
        "no ratings yet"
    );
    let alice = rate_all_in_app(workbench, &created.id, "alice");
    let bob = rate_all_in_app(workbench, &created.id, "bob");
    assert_eq!((alice.len(), bob.len()), (4, 4));
    // Each item is shown to alice and bob in opposite orders (bob is the panel's rater 2).
    for item in &alice {
        let texts = |item: &RatingItem| {
            item.answers
                .iter()
                .map(|answer| answer.text.clone())
                .collect::<Vec<_>>()
        };
        let same_prompt = bob
            .iter()
            .find(|other| other.prompt == item.prompt)
            .expect("bob sees every item");
        let mut reversed = texts(same_prompt);
        reversed.reverse();
        assert_eq!(texts(item), reversed);
    }

    // By file: a panel planned with both raters from the start, the same choices imported.
    let imported = workbench
        .create_panel(&PanelRequest {
            session: session.clone(),
            kind: PanelKind::Pairwise,
            criteria: Vec::new(),
            raters: vec!["alice".to_owned(), "bob".to_owned()],
            items_per_rater: None,
            targets: Vec::new(),
            tests: Vec::new(),
            seed: None,
            title: None,
        })
        .expect("created");
    for rater in ["alice", "bob"] {
        workbench
            .import_ratings(&ratings_file(workbench, &imported.id, rater))
            .expect("imported");
    }

    let in_app = workbench.panel_results(&created.id).expect("results");
    let from_files = workbench.panel_results(&imported.id).expect("results");
    assert_eq!(
        serde_json::to_value(&in_app).expect("json"),
        serde_json::to_value(&from_files).expect("json"),
        "the same results"
    );
    assert_eq!(in_app.ratings, 8);
    let verbose = &in_app.targets[0];
    assert_eq!(
        (verbose.target.as_str(), verbose.wins, verbose.ties, verbose.losses),
        ("zeta-verbose", 6, 2, 0)
    );

    // A revised rating replaces the first one: the counts stay, the tally moves.
    let first = workbench.rating_item(&created.id, "alice", 1).expect("item 1");
    let flipped = match first.given.as_ref().and_then(|given| given.choice) {
        Some(Choice::A) => Choice::B,
        _ => Choice::A,
    };
    let revised = workbench
        .rate_item(
            &created.id,
            "alice",
            1,
            &GivenRating {
                choice: Some(flipped),
                ..GivenRating::default()
            },
        )
        .expect("revised");
    assert_eq!(
        (revised.rated, revised.given.and_then(|given| given.choice)),
        (4, Some(flipped))
    );
    let after = workbench.panel_results(&created.id).expect("results");
    assert_eq!(after.ratings, 8);
    let win_rate = |results: &modelbench_engine::panel::PanelResults| {
        results
            .targets
            .iter()
            .find(|target| target.target == "zeta-verbose")
            .and_then(|target| target.win_rate)
            .map(|estimate| estimate.value)
    };
    assert_ne!(win_rate(&after), win_rate(&in_app));

    // The leaderboard is the newest panel with ratings: the imported one.
    let leaderboard = workbench
        .session_leaderboard(&session)
        .expect("leaderboard")
        .expect("a panel with ratings");
    assert_eq!(leaderboard.panel_id, imported.id);
    assert_eq!(leaderboard.raters, ["alice", "bob"]);
    assert_eq!(leaderboard.rows[0].target, "zeta-verbose");
    assert_eq!(leaderboard.rows[0].rank, Some(1));
    assert_eq!(leaderboard.rows[0].win_rate, Some(0.875));
    let row = &leaderboard.rows[0];
    assert!(
        row.strength_lower <= row.strength && row.strength <= row.strength_upper,
        "{row:?}"
    );
    assert_eq!(leaderboard.alpha, from_files.agreement.alpha);
    assert_eq!(
        leaderboard.alpha_reading.as_deref(),
        from_files.agreement.alpha.map(panel::alpha_reading)
    );
    assert_eq!(
        leaderboard.position_bias.map(|bias| bias.decided),
        from_files.position_bias.map(|bias| bias.decided)
    );
}

#[tokio::test]
async fn what_the_rate_view_receives_names_no_target_model_or_provider() {
    let setup = session().await;
    let workbench = &setup.workbench;
    let session = setup.session_id.to_string();
    let mut payloads = Vec::new();
    for kind in [PanelKind::Pairwise, PanelKind::Rubric] {
        let status = workbench.create_rating_panel(&session, kind, "alice").expect("created");
        payloads.push(serde_json::to_string(&status).expect("json"));
        for n in 1..=status.items as u32 {
            let item = workbench.rating_item(&status.id, "alice", n).expect("item");
            assert_eq!(item.answers.len(), 2);
            payloads.push(serde_json::to_string(&item).expect("json"));
        }
        payloads.push(serde_json::to_string(&workbench.join_panel(&status.id, "bob").expect("joined")).expect("json"));
    }
    let mut forbidden: Vec<String> = TARGETS
        .iter()
        .flat_map(|(name, model, _)| [(*name).to_owned(), (*model).to_owned()])
        .collect();
    forbidden.extend(["acme", "zeta", "alpha-7", "beta-9", "openai", "127.0.0.1"].map(str::to_owned));
    for payload in &payloads {
        let lower = payload.to_lowercase();
        for word in &forbidden {
            assert!(!lower.contains(&word.to_lowercase()), "'{word}' in {payload}");
        }
    }
    // The answers themselves do arrive (the check above is not vacuous).
    assert!(
        TARGETS
            .iter()
            .all(|(_, _, text)| payloads.iter().any(|payload| payload.contains(text))),
        "{payloads:?}"
    );
}

#[tokio::test]
async fn a_rubric_rating_in_the_app_needs_every_score_and_reads_back_in_its_labels() {
    let setup = session().await;
    let workbench = &setup.workbench;
    let session = setup.session_id.to_string();
    let status = workbench
        .create_rating_panel(&session, PanelKind::Rubric, "carol")
        .expect("created");
    let item = workbench.join_panel(&status.id, "carol").expect("joined");
    assert_eq!(
        item.answers
            .iter()
            .map(|answer| answer.label.as_str())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(item.criteria.len(), 1);
    let criterion = item.criteria[0].name.clone();
    let mut given = GivenRating::default();
    given
        .scores
        .insert("1".to_owned(), [(criterion.clone(), 2)].into_iter().collect());
    let error = workbench
        .rate_item(&status.id, "carol", 1, &given)
        .expect_err("answer 2 has no score")
        .to_string();
    assert!(error.contains("every answer"), "{error}");
    given
        .scores
        .insert("2".to_owned(), [(criterion.clone(), 5)].into_iter().collect());
    let saved = workbench.rate_item(&status.id, "carol", 1, &given).expect("rated");
    assert_eq!((saved.rated, saved.given.as_ref()), (1, Some(&given)));
    given
        .scores
        .insert("2".to_owned(), [(criterion, 6)].into_iter().collect());
    let error = workbench
        .rate_item(&status.id, "carol", 1, &given)
        .expect_err("6 is out of range")
        .to_string();
    assert!(error.contains("not 1 to 5"), "{error}");
    let results = workbench.panel_results(&status.id).expect("results");
    assert_eq!(results.ratings, 1);
    let mut means: Vec<f64> = results.targets.iter().filter_map(|target| target.mean_score).collect();
    means.sort_by(f64::total_cmp);
    assert_eq!(means, [2.0, 5.0]);
}

#[tokio::test]
async fn a_wrong_rater_item_or_choice_is_a_clear_error() {
    let setup = session().await;
    let workbench = &setup.workbench;
    let status = workbench
        .create_rating_panel(&setup.session_id.to_string(), PanelKind::Pairwise, "alice")
        .expect("created");
    let message = |result: modelbench_workbench::Result<RatingItem>| result.expect_err("an error").to_string();
    let unknown = message(workbench.rating_item(&status.id, "mallory", 1));
    assert!(
        unknown.contains("no rater 'mallory'") && unknown.contains(&status.id),
        "{unknown}"
    );
    let beyond = message(workbench.rating_item(&status.id, "alice", 9));
    assert!(beyond.contains("items 1 to 4, not 9"), "{beyond}");
    let none = message(workbench.rate_item(&status.id, "alice", 1, &GivenRating::default()));
    assert!(none.contains("choose A, B or tie"), "{none}");
    let empty = message(workbench.join_panel(&status.id, "  "));
    assert!(empty.contains("empty"), "{empty}");
    let clash = message(workbench.join_panel(&status.id, "Alice"));
    assert!(clash.contains("'alice' and 'Alice'"), "{clash}");
}
