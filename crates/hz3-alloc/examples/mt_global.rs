//! hz3 as the global allocator of a multithreaded program: producers build strings and
//! vectors, consumers on other threads free them (remote frees), every thread exits and new
//! ones start each round. Exits 0 when every checksum matches.

use std::sync::mpsc;
use std::thread;

#[global_allocator]
static GLOBAL: hz3_alloc::Hz3 = hz3_alloc::Hz3::new();

fn main() {
    let rounds = 20;
    let per_thread = 20_000usize;
    for round in 0..rounds {
        let (tx, rx) = mpsc::sync_channel::<Vec<String>>(64);
        let producers: Vec<_> = (0..2)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut batch = Vec::new();
                    for i in 0..per_thread {
                        batch.push(format!("r{round}-t{t}-{i}-{}", "x".repeat(i % 300)));
                        if batch.len() == 64 {
                            tx.send(std::mem::take(&mut batch)).unwrap();
                        }
                    }
                    tx.send(batch).unwrap();
                })
            })
            .collect();
        drop(tx);
        let consumer = thread::spawn(move || {
            let mut n = 0usize;
            for batch in rx {
                for s in batch {
                    assert!(s.starts_with('r'));
                    n += 1;
                }
            }
            n
        });
        for p in producers {
            p.join().unwrap();
        }
        let n = consumer.join().unwrap();
        assert_eq!(n, 2 * per_thread);
    }
    let big: Vec<u8> = vec![7u8; 10 << 20];
    assert!(big.iter().all(|&b| b == 7));
    println!("mt_global: {rounds} rounds x 2 producers x {per_thread} strings freed remotely: ok");
}
