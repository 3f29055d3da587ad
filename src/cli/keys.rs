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
                            Some(at) => format!("last used at {at}"),
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
