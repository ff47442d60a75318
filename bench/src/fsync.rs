//! The physical limit: append 256 bytes to a file and `fdatasync` it, over and over.
//! Every synced write a broker does costs at least this much, so a broker that syncs once
//! per message cannot exceed `ops_per_sec` messages per second per sync stream.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::stats::Latency;
use crate::Error;

#[derive(Debug, Clone, Copy)]
pub struct FsyncResult {
    pub iterations: u64,
    pub latency: Latency,
    /// Iterations ÷ wall time of the whole loop.
    pub ops_per_sec: f64,
}

/// Runs the probe in `dir` (a file there is created, appended to and deleted).
pub fn probe(dir: &Path, iterations: u64, size: usize) -> Result<FsyncResult, Error> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("fsync-probe-{}.dat", std::process::id()));
    let result = run(&path, iterations.max(1), size);
    let _ = std::fs::remove_file(&path);
    result
}

fn run(path: &Path, iterations: u64, size: usize) -> Result<FsyncResult, Error> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    let block = vec![b'x'; size];
    // One unmeasured round so file creation is not in the numbers.
    file.write_all(&block)?;
    file.sync_all()?;
    let mut samples: Vec<Duration> = Vec::with_capacity(iterations as usize);
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(t.elapsed());
    }
    let wall = start.elapsed();
    Ok(FsyncResult {
        iterations,
        latency: Latency::of(samples),
        ops_per_sec: iterations as f64 / wall.as_secs_f64(),
    })
}
