//! View timing against a closed form.

use sim::rng::StreamKey;
use sim::time::HOUR;

use crate::support::*;

/// IO users only, no domicile: a share `p` views after an exponential delay with mean
/// `mean` hours from the courtesy message, so the share viewed within 120 h of the
/// courtesy message is `p (1 - exp(-120 / mean))`.
#[test]
fn share_viewed_within_120_hours_matches_the_exponential_closed_form() {
    let (p, mean) = (0.6, 48.0);
    let m = fixed(&format!(
        "[recipients]
per_notification = {{ kind = \"constant\", value = 1.0 }}
company_share = 0.0
[recipients.citizen]
platform_domicile_share = 0.0
special_domicile_share = 0.0
general_domicile_share = 0.0
io_send_enabled_share = 1.0
email_share = 0.0
sms_share = 0.0
[views]
io = {{ share = {p}, delay_hours = {{ kind = \"exponential\", mean = {mean} }} }}
"
    ));
    let n = 100_000u64;
    let mut within = 0u64;
    for i in 0..n {
        let key = StreamKey {
            seed: 5,
            replication: 0,
            notification: i,
        };
        let input = m.sample_notification(&key, 1 << 20);
        let o = m.recipient(&key, &input, 0, 0, &mut ());
        let courtesy = o.courtesy[0].expect("IO courtesy message");
        if o.viewed_at.is_some_and(|v| v - courtesy <= 120 * HOUR) {
            within += 1;
        }
    }
    let share = within as f64 / n as f64;
    let expected = p * (1.0 - (-120.0f64 / mean).exp());
    let half_width = 1.96 * (share * (1.0 - share) / n as f64).sqrt();
    assert!(half_width < 0.005, "interval too wide: {half_width}");
    assert!(
        (share - expected).abs() < half_width,
        "viewed within 120 h: {share:.4}, closed form {expected:.4} ± {half_width:.4}"
    );
}
