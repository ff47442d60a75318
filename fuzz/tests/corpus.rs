//! Runs the fuzz target logic on stable: every committed corpus file, then a bounded number
//! of deterministic mutations of them (a smoke test, not a substitute for libFuzzer).

use std::fs;
use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("corpus file"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_the_target() {
    let files = corpus("stomp_decode");
    assert!(files.len() >= 15, "seed corpus has {} files", files.len());
    for (name, data) in &files {
        eprintln!("{name}");
        ferromq_fuzz::stomp_decode(data);
    }
}

#[test]
fn every_selector_seed_passes_the_target() {
    let files = corpus("selector");
    assert!(files.len() >= 25, "seed corpus has {} files", files.len());
    for (name, data) in &files {
        eprintln!("{name}");
        ferromq_fuzz::selector(data);
    }
}

/// The seeds are meant to reach the evaluator: most of them must parse.
#[test]
fn most_selector_seeds_parse() {
    let files = corpus("selector");
    let parsed = files
        .iter()
        .filter(|(_, data)| {
            std::str::from_utf8(data).is_ok_and(|t| jms_model::Selector::parse(t).is_ok())
        })
        .count();
    assert!(
        parsed * 3 >= files.len() * 2,
        "{parsed} of {} seeds parse",
        files.len()
    );
}

/// xorshift64*: deterministic, so a failure reproduces from the seed in the message.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Runs `target` on `rounds` mutations of the corpus files (deletions, insertions of
/// `interesting` or random bytes, overwrites, and splices from other files).
fn mutate(files: &[(String, Vec<u8>)], interesting: &[u8], rounds: usize, target: fn(&[u8])) {
    let mut rng = Rng(0x5eed_f00d_cafe_d00d);
    for round in 0..rounds {
        let (_, base) = &files[rng.below(files.len())];
        let mut data = base.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(data.len() + 1);
            match rng.below(5) {
                0 if !data.is_empty() && at < data.len() => {
                    data.remove(at);
                }
                1 => data.insert(at, interesting[rng.below(interesting.len())]),
                2 => data.insert(at, rng.next() as u8),
                3 if at < data.len() => data[at] = interesting[rng.below(interesting.len())],
                _ => {
                    // Splice in a piece of another file.
                    let (_, other) = &files[rng.below(files.len())];
                    let from = rng.below(other.len());
                    let to = from + rng.below(other.len() - from + 1);
                    data.splice(at..at, other[from..to].iter().copied());
                }
            }
        }
        let result = std::panic::catch_unwind(|| target(&data));
        assert!(result.is_ok(), "round {round} failed on input {data:?}");
    }
}

#[test]
fn mutated_corpus_passes_the_target() {
    mutate(
        &corpus("stomp_decode"),
        b"\0\n\r:\\cnrt0123456789,",
        3000,
        ferromq_fuzz::stomp_decode,
    );
}

#[test]
fn mutated_selector_corpus_passes_the_target() {
    mutate(
        &corpus("selector"),
        b"'()%_=<>+-*/.,! eEL0123456789xaNOT",
        5000,
        ferromq_fuzz::selector,
    );
}
