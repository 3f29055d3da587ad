//! `concierge keys`: API keys for the HTTP API. Whoever can run this
//! command can read the store, so it is the operator's.

use super::KeysCommand;
use anyhow::bail;
use concierge::config::Config;
use concierge::order::Store;
use concierge::server::auth::{create_key, Scope};

pub fn run(config: &Config, command: KeysCommand) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    match command {
        KeysCommand::Create {
            scope,
            subject,
            label,
            json,
        } => {
            let Some(scope) = Scope::parse(&scope) else {
                bail!("unknown scope {scope:?}: shopper, merchant or operator");
            };
            let subject = match (scope, subject) {
                (Scope::Operator, subject) => subject.unwrap_or_else(|| "operator".into()),
                (_, Some(subject)) => subject,
                (Scope::Shopper, None) => bail!("say whose key it is: --subject NAME"),
                (Scope::Merchant, None) => bail!("say which merchant: --subject MERCHANT_ID"),
            };
            if scope == Scope::Merchant && store.merchant(&subject)?.is_none() {
                bail!("no merchant {subject:?} is registered (`concierge merchant list`)");
            }
            let key = create_key(&store, scope, &subject, &label)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&key)?);
            } else {
                println!(
                    "{} key {} for {}: {}",
                    key.record.scope, key.record.id, key.record.subject, key.secret
                );
                println!("The secret is shown only now; only its hash is kept.");
            }
        }
        KeysCommand::List { json } => {
            let keys = store.api_keys()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else if keys.is_empty() {
                println!(
                    "No API keys yet (`concierge serve` makes the operator's on first start)."
                );
            } else {
                for key in keys {
                    let state = match key.revoked_at {
                        Some(_) => "revoked".to_string(),
                        None => match key.last_used_at {
                            Some(at) => format!("last used {}", utc(at)),
                            None => "never used".to_string(),
                        },
                    };
                    println!(
                        "{}  {:<8}  {:<20}  {}…  {}{}",
                        key.id,
                        key.scope,
                        key.subject,
                        key.shown_prefix,
                        state,
                        if key.label.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", key.label)
                        }
                    );
                }
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_api_key(&id)? {
                bail!("no live key {id:?} (`concierge keys list`)");
            }
            println!("Revoked {id}.");
        }
    }
    Ok(0)
}

/// Unix seconds as "2026-12-04 16:58 UTC" (the civil calendar from days,
/// after Howard Hinnant's algorithm).
fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_seconds_read_as_utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(super::utc(1_796_401_530), "2026-12-04 16:25 UTC");
    }
}
