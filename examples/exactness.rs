//! Exactness at every dimension: for each (d, t) of the mpmath references in
//! `tests/data/highd_values.json`, the worst errors of `Kernel::eval`, `eval_d1`,
//! `eval_d2` (relative, where the value is above `1e-290`) and `ln_eval` (absolute),
//! and the time to build the kernel's exact series and a `KdeKl` (t = 2/d).
//!
//! `cargo run --release --example exactness`

use serde_json::Value;
use std::time::Instant;
use unisphere::{KdeKl, Kernel};

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        v => v.as_f64().unwrap_or(f64::NAN),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/highd_values.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    println!(
        "|    d |    t d | phi rel | phi' rel | phi'' rel | ln phi abs | min ln phi | exact series | KdeKl::new |"
    );
    println!(
        "|------|--------|---------|----------|-----------|------------|------------|--------------|------------|"
    );
    for case in data["kernels"].as_array().ok_or("no kernels")? {
        let d = case["d"].as_u64().ok_or("no d")? as usize;
        let t = num(&case["t"]);
        let start = Instant::now();
        let k = Kernel::heat(d, t)?;
        let min_ln = k.ln_eval(-1.0); // builds the exact series
        let series_s = start.elapsed().as_secs_f64();
        let mut worst = [0.0f64; 4];
        for v in case["values"].as_array().ok_or("no values")? {
            let c = num(&v["c"]);
            for (i, (got, key)) in [
                (k.eval(c), "phi"),
                (k.eval_d1(c), "d1"),
                (k.eval_d2(c), "d2"),
            ]
            .into_iter()
            .enumerate()
            {
                let want = num(&v[key]);
                if want.abs() > 1e-290 {
                    worst[i] = worst[i].max(((got - want) / want).abs());
                }
            }
            worst[3] = worst[3].max((k.ln_eval(c) - num(&v["ln_phi"])).abs());
        }
        let kl = if (t * d as f64 - 2.0).abs() < 1e-12 {
            let start = Instant::now();
            KdeKl::new(Kernel::heat(d, t)?)?;
            format!("{:.2} s", start.elapsed().as_secs_f64())
        } else {
            "-".to_string()
        };
        println!(
            "| {d:>4} | {:>6.2} | {:.1e} | {:.1e} | {:.1e} | {:.1e} | {min_ln:>10.2} | {series_s:>10.3} s | {kl:>10} |",
            t * d as f64,
            worst[0],
            worst[1],
            worst[2],
            worst[3]
        );
    }
    Ok(())
}
