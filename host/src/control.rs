//! The simulator's command socket: one command per line, one answer line ("ok ..." or
//! "error ..."). Tests drive the host through it (rescind, faults, stats, ...).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

/// Something that answers commands.
pub trait Commands: Send + Sync {
    /// Runs one command line; returns the answer (without newline).
    fn command(&self, line: &str) -> Result<String>;
}

/// Serves `path` forever on a thread per connection.
pub fn serve(path: &Path, handler: Arc<dyn Commands>) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let h = handler.clone();
            let _ = std::thread::Builder::new().name("control-conn".into()).spawn(move || connection(stream, h));
        }
    })?;
    Ok(())
}

fn connection(stream: UnixStream, handler: Arc<dyn Commands>) {
    let Ok(mut out) = stream.try_clone() else { return };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let answer = match handler.command(line.trim()) {
            Ok(s) => format!("ok {s}"),
            Err(e) => format!("error {e:#}"),
        };
        if writeln!(out, "{}", answer.replace('\n', " | ")).is_err() {
            return;
        }
    }
}
