//! Researchers' and maintainers' commands: `eval`, `bench`, `parse`,
//! `rules check` and `orders`.

use super::{
    parse_amount, scratch_dir, BenchCommand, EvalCommand, EvalFormat, EvalShopArgs, RankerArg,
    RulesCommand,
};
use anyhow::Context;
use concierge::config::Config;
use concierge::order::Store;
use concierge::rules;
use std::sync::Arc;

pub fn run(config: &Config, command: EvalCommand) -> anyhow::Result<i32> {
    match command {
        EvalCommand::Intents {
            data,
            label_map,
            splits,
            json,
            max_errors,
        } => {
            let parser = concierge::intent::Parser::new(Arc::new(rules::load(&config.rules_dir)?));
            let report = concierge::eval::run_intents(
                &parser,
                &data,
                label_map.as_deref(),
                splits.as_deref(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.render(max_errors));
            }
            Ok(0)
        }
        EvalCommand::Requests {
            data,
            json,
            max_errors,
        } => {
            let parser = concierge::intent::Parser::new(Arc::new(rules::load(&config.rules_dir)?));
            let report = concierge::eval::requests::run_requests(&parser, &data, max_errors)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            Ok(0)
        }
        EvalCommand::Dialogue {
            data,
            json,
            max_errors,
        } => {
            let rules = Arc::new(rules::load(&config.rules_dir)?);
            let cases = concierge::eval::dialogue::read_turns(&data)?;
            let report = concierge::eval::dialogue::evaluate_turns(&rules, &cases);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render(max_errors));
            }
            Ok(0)
        }
        EvalCommand::Search(args) => {
            use concierge::eval::retrieval;
            let rules = rules::load(&config.rules_dir)?;
            let set = match args.format {
                EvalFormat::Pricerunner => retrieval::read_pricerunner(&args.data)?,
                EvalFormat::Qrels => retrieval::read_qrels_dir(&args.data)?,
            };
            for problem in set.rejected.iter().take(20) {
                eprintln!("skipped: {problem}");
            }
            let ranker = match args.ranker {
                RankerArg::Bm25 => concierge::catalog::search::Ranker::Bm25,
                RankerArg::Full => concierge::catalog::search::Ranker::Full,
            };
            let work_dir = scratch_dir("eval")?;
            let report = retrieval::evaluate(&set, ranker, &rules, &work_dir);
            let _ = std::fs::remove_dir_all(&work_dir);
            let report = report?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render(args.show));
            }
            Ok(0)
        }
        EvalCommand::Shop(args) => shop(config, args),
    }
}

/// `concierge eval shop`: the children are this binary, with the rules
/// this command would use.
fn shop(config: &Config, args: EvalShopArgs) -> anyhow::Result<i32> {
    use concierge::eval::shop::{run_shop_eval, ShopEvalOptions};
    use std::io::IsTerminal;
    let rules_dir = config
        .rules_dir
        .is_dir()
        .then(|| std::path::absolute(&config.rules_dir))
        .transpose()?;
    let options = ShopEvalOptions {
        tasks: args.tasks,
        feeds: args.feeds,
        repeat: args.repeat as usize,
        max_tasks: args.max_tasks,
        default_max_total: args
            .default_max_total
            .map(|text| parse_amount(&text))
            .transpose()?,
        market: concierge::eval::market::MarketOptions {
            binary: std::env::current_exe().context("cannot find this binary")?,
            rules_dir,
        },
    };
    let show_progress = std::io::stderr().is_terminal();
    let report = run_shop_eval(&options, |task, run| {
        if show_progress {
            eprintln!(
                "{:<14} {:<16} reward {:.2}  {:.1} s",
                task.id,
                run.stage.map(|s| s.name()).unwrap_or("ok"),
                run.reward,
                run.seconds
            );
        }
    })?;
    if let Some(path) = &args.report_md {
        std::fs::write(path, report.render_markdown())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(0)
}

pub async fn bench(config: &Config, command: BenchCommand) -> anyhow::Result<i32> {
    match command {
        BenchCommand::Negotiate {
            merchants,
            hanging,
            trickling,
            deadline_ms,
            repeat,
            protocols,
        } => {
            let result = concierge::bench::negotiation(
                merchants,
                hanging,
                trickling,
                std::time::Duration::from_millis(deadline_ms),
                repeat,
                &protocols,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(0)
        }
        BenchCommand::Payments { orders, duplicates } => {
            let result = concierge::bench::payments(orders, duplicates).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(
                if result.store_claims == orders && result.merchant_charges == orders {
                    0
                } else {
                    1
                },
            )
        }
        BenchCommand::Search {
            products,
            queries,
            no_fts5,
            work_dir,
            json,
        } => {
            let rules = Arc::new(rules::load(&config.rules_dir)?);
            let owned = work_dir.is_none();
            let work_dir = match work_dir {
                Some(dir) => dir,
                None => scratch_dir("bench")?,
            };
            let options = concierge::bench::search::BenchOptions {
                products,
                queries,
                fts5: !no_fts5,
            };
            let report = concierge::bench::search::run(&options, rules, &work_dir, &mut |line| {
                if !json {
                    eprintln!("{line}");
                }
            });
            if owned {
                let _ = std::fs::remove_dir_all(&work_dir);
            }
            let report = report?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            Ok(0)
        }
    }
}

pub fn parse(config: &Config, text: &str) -> anyhow::Result<i32> {
    let parser = concierge::intent::Parser::new(Arc::new(rules::load(&config.rules_dir)?));
    println!(
        "{}",
        serde_json::to_string_pretty(&parser.parse_json(text))?
    );
    Ok(0)
}

pub fn rules(config: &Config, command: RulesCommand) -> anyhow::Result<i32> {
    let RulesCommand::Check { dir } = command;
    let dir = dir.unwrap_or_else(|| config.rules_dir.clone());
    let report = if dir.is_dir() {
        rules::check(&dir)?
    } else {
        rules::check_sources(&rules::embedded_sources())
    };
    print!("{}", report.render());
    Ok(if report.is_ok() { 0 } else { 1 })
}

pub fn orders(config: &Config, json: bool) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    let orders = store.orders()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&orders)?);
    } else if orders.is_empty() {
        println!("No orders yet in {}.", config.db_path.display());
    } else {
        println!(
            "{:>4}  {:<20}  {:<24}  {:<36}  {:<16}  {:>3}  {:>9}  status",
            "#", "order", "merchant", "product", "variant", "qty", "total"
        );
        for order in orders {
            let total = concierge::money::Money::new(order.total, order.currency.clone());
            println!(
                "{:>4}  {:<20}  {:<24}  {:<36}  {:<16}  {:>3}  {:>9}  {}",
                order.id,
                order.order_number,
                order.merchant_name,
                order.product_title,
                order.variant,
                order.quantity,
                total.to_string(),
                order.status
            );
        }
    }
    Ok(0)
}

/// `concierge payments`: every payment and where it stands, newest first.
pub fn payments(config: &Config, json: bool) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    let payments = store.payments(None)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&payments)?);
        return Ok(0);
    }
    if payments.is_empty() {
        println!("No payments yet in {}.", config.db_path.display());
        return Ok(0);
    }
    println!(
        "{:<10}  {:>9}  {:<16}  {:<20}  {:>5}  detail",
        "status", "amount", "merchant", "order", "order#"
    );
    for payment in &payments {
        let amount = concierge::money::Money::new(payment.amount_minor, payment.currency.clone());
        let detail: String = payment.detail.chars().take(60).collect();
        println!(
            "{:<10}  {:>9}  {:<16}  {:<20}  {:>5}  {}",
            payment.status.as_str(),
            amount.to_string(),
            payment.merchant_id,
            payment.order_number,
            payment
                .order_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "-".into()),
            detail
        );
    }
    let open = payments.iter().filter(|p| p.status.is_open()).count();
    if open > 0 {
        println!("{open} payment(s) still open: `concierge payments reconcile` asks the merchants (`concierge serve` does it every minute).");
    }
    Ok(0)
}
