use sim::model::{NotificationInput, RecipientProfile, RecipientType};
use sim::prices::{PaperAddress, PaperPriceList};
use sim::rng::StreamKey;
use sim::run::{RunOptions, simulate};
use sim::tally::Tally;
use sim::{Model, Scenario};

/// The default scenario with `overrides` (TOML) laid over it.
pub fn scenario(overrides: &str) -> Scenario {
    Scenario::from_toml_str(overrides, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn model(overrides: &str) -> Model {
    Model::new(scenario(overrides)).unwrap()
}

/// The deterministic test scenario with `overrides` laid over it.
pub fn fixed(overrides: &str) -> Model {
    let s = Scenario::from_layers(&[
        (DETERMINISTIC, "deterministic.toml"),
        (overrides, "test.toml"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    Model::new(s).unwrap()
}

pub fn run(
    model: &Model,
    seed: u64,
    replications: u32,
    notifications: u64,
    threads: usize,
) -> Vec<Tally> {
    simulate(
        model,
        &RunOptions {
            seed,
            replications,
            notifications,
            threads,
        },
        &|_| {},
    )
}

/// Everything deterministic: constant delays, no refusals, no views, no payments.
pub const DETERMINISTIC: &str = r#"
start = "2025-03-03T00:00:00"
[validation]
refused_share = 0.0
delay_seconds = { kind = "constant", value = 60.0 }
[courtesy]
wait_before_paper_hours = 120.0
io_delay_minutes = { kind = "constant", value = 0.0 }
email_delay_minutes = { kind = "constant", value = 0.0 }
sms_delay_minutes = { kind = "constant", value = 0.0 }
[pec]
address_lookup_minutes = { kind = "constant", value = 10.0 }
delivery_minutes = { kind = "constant", value = 20.0 }
failure_hours = { kind = "constant", value = 2.0 }
working_box_share = 1.0
second_round_success_share = 0.0
[paper]
preparation_hours = { kind = "constant", value = 24.0 }
transit_days_890 = { kind = "constant", value = 5.0 }
transit_days_ar = { kind = "constant", value = 5.0 }
transit_days_rs = { kind = "constant", value = 5.0 }
transit_days_rir = { kind = "constant", value = 10.0 }
return_days = { kind = "constant", value = 8.0 }
pickup_days = { kind = "constant", value = 4.0 }
delivered_share = 1.0
refused_share = 0.0
lost_share = 0.0
discovered_address_share = 0.0
registry_address_share = 0.0
[views]
io = { share = 0.0, delay_hours = { kind = "constant", value = 10.0 } }
email = { share = 0.0, delay_hours = { kind = "constant", value = 10.0 } }
sms = { share = 0.0, delay_hours = { kind = "constant", value = 10.0 } }
pec = { share = 0.0, delay_hours = { kind = "constant", value = 10.0 } }
paper = { share = 0.0, delay_hours = { kind = "constant", value = 10.0 } }
[payments]
after_app_view = { share = 0.0, delay_days = { kind = "constant", value = 1.0 } }
after_web_view = { share = 0.0, delay_days = { kind = "constant", value = 1.0 } }
after_pec = { share = 0.0, delay_days = { kind = "constant", value = 1.0 } }
after_paper = { share = 0.0, delay_days = { kind = "constant", value = 1.0 } }
unaware = { share = 0.0, delay_days = { kind = "constant", value = 1.0 } }
spontaneous = { share = 0.0, delay_days = { kind = "constant", value = 1.0 } }
"#;

/// A citizen in Rome with no digital domicile, no courtesy channel, correct address.
pub fn citizen() -> RecipientProfile {
    let cap = PaperPriceList::embedded().geo.cap_index("00118").unwrap();
    RecipientProfile {
        kind: RecipientType::Pf,
        platform_domicile: false,
        special_domicile: false,
        general_domicile: false,
        io: false,
        email: false,
        sms: false,
        address: PaperAddress::National { cap },
        address_correct: true,
        deceased: false,
        forced: Default::default(),
        reported_payment: None,
    }
}

pub fn key(n: u64) -> StreamKey {
    StreamKey {
        seed: 7,
        replication: 0,
        notification: n,
    }
}

/// A notification of the model's first act with the given recipients.
pub fn notification(model: &Model, recipients: Vec<RecipientProfile>) -> NotificationInput {
    let mut n = model.sample_notification(&key(0), 1);
    n.sent_at = 0;
    n.recipients = recipients;
    n
}

/// Runs the `sendsim` binary with `args`; panics with its output unless it succeeds, and
/// returns its stdout.
pub fn sendsim_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_sendsim"))
        .args(args)
        .output()
        .expect("sendsim starts");
    let stdout = String::from_utf8_lossy(&r.stdout).to_string();
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    stdout
}
