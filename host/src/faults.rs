//! Fault plans (hostile mode): control commands run at chosen moments.
//!
//! A plan is a text file of lines `SECONDS COMMAND...`; each command (any control command:
//! `inject ...`, `rescind NAME`, `restart`, `storm NAME N`, `stall on`, `dev NAME ...`) runs
//! SECONDS after the guest first connects to VMBus, in file order. Blank lines and text after
//! `#` are ignored. What each step answered goes to stderr (the simulator's log).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::control::Commands;
use crate::vmbus::VmbusHost;

/// One step: when (after the guest connected) and what.
struct Step {
    at: Duration,
    command: String,
}

/// A parsed fault plan.
pub struct Plan {
    steps: Vec<Step>,
}

impl Plan {
    /// Parses `text`; errors name the line.
    pub fn parse(text: &str) -> Result<Plan> {
        let mut steps = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (secs, command) = line.split_once(char::is_whitespace).with_context(|| format!("line {}: expected \"SECONDS COMMAND\"", i + 1))?;
            let secs: f64 = secs.parse().with_context(|| format!("line {}: {secs:?} is not a number of seconds", i + 1))?;
            if !(0.0..=86_400.0).contains(&secs) {
                bail!("line {}: {secs} s is out of range (0..86400)", i + 1);
            }
            steps.push(Step { at: Duration::from_secs_f64(secs), command: command.trim().to_string() });
        }
        Ok(Plan { steps })
    }

    /// Reads and parses the plan in `path`.
    pub fn load(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading the fault plan {}", path.display()))?;
        Plan::parse(&text).with_context(|| format!("fault plan {}", path.display()))
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Runs the plan on a thread of its own.
    pub fn start(self, commands: Arc<dyn Commands>, vmbus: Arc<VmbusHost>) -> Result<()> {
        std::thread::Builder::new().name("faults".into()).spawn(move || {
            while !vmbus.connected() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let t0 = Instant::now();
            for s in self.steps {
                if let Some(wait) = s.at.checked_sub(t0.elapsed()) {
                    std::thread::sleep(wait);
                }
                match commands.command(&s.command) {
                    Ok(a) => eprintln!("pvg-host: fault plan at {:.1}s: {}: {a}", t0.elapsed().as_secs_f64(), s.command),
                    Err(e) => eprintln!("pvg-host: fault plan at {:.1}s: {}: error: {e:#}", t0.elapsed().as_secs_f64(), s.command),
                }
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps_and_names_bad_lines() {
        let p = Plan::parse("# a plan\n0.5 inject unknown-message\n\n2 rescind echo0  # gone\n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.steps[0].at, Duration::from_millis(500));
        assert_eq!(p.steps[1].command, "rescind echo0");
        let e = Plan::parse("1 stats\nsoon restart\n").err().unwrap();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        assert!(Plan::parse("5\n").is_err());
        assert!(Plan::parse("-1 restart\n").is_err());
    }
}
