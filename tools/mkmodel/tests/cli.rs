//! The `mkmodel` binary end to end: build from a description with a raw weights file
//! beside it, show, check, and the exit statuses of errors and bad usage.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mkmodel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mkmodel"))
        .args(args)
        .output()
        .expect("mkmodel runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mkmodel-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn build_show_check() {
    let dir = scratch("ok");
    let w: Vec<u8> = [1.0f32, 0.0, 0.0, 1.0, 2.0, -1.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(dir.join("w.f32"), &w).unwrap();
    std::fs::write(
        dir.join("m.txt"),
        "model lin\ninput x f32 1,2\nweight w f32 2,3 file=w.f32\nnode y = matmul x w\noutput y\n",
    )
    .unwrap();
    let desc = dir.join("m.txt");
    let out = dir.join("m.waymodel");
    let r = mkmodel(&["build", desc.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let m = wayos_kcore::waymodel::parse(&bytes).unwrap();
    assert_eq!(m.tensor(1).unwrap().data, &w[..]);

    let r = mkmodel(&["show", out.to_str().unwrap()]);
    assert!(r.status.success());
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(text.starts_with("model lin (version 1, "), "{text}");
    assert!(text.contains("\n  %0 = matmul x w -> f32 1,3\n"), "{text}");

    let r = mkmodel(&["check", out.to_str().unwrap()]);
    assert!(r.status.success());
    assert!(String::from_utf8(r.stdout)
        .unwrap()
        .contains(": ok: model lin, 2 tensors (1 inputs), 1 nodes, 1 outputs"));

    // A flipped byte: check fails with status 1 and says why.
    let mut bad = bytes.clone();
    bad[300] ^= 4;
    let badf = dir.join("bad.waymodel");
    std::fs::write(&badf, &bad).unwrap();
    let r = mkmodel(&["check", badf.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8(r.stderr)
        .unwrap()
        .starts_with("mkmodel: "));
    let r = mkmodel(&["show", badf.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_and_usage() {
    let dir = scratch("err");
    std::fs::write(dir.join("m.txt"), "input x f32 2\nnode y = relu q\n").unwrap();
    let desc = dir.join("m.txt");
    let out = dir.join("m.waymodel");
    let r = mkmodel(&["build", desc.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    let msg = String::from_utf8(r.stderr).unwrap();
    assert!(
        msg.ends_with("m.txt: line 2: 'q' is not defined above\n"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing written on error");
    assert_eq!(mkmodel(&["frob"]).status.code(), Some(2));
    assert_eq!(mkmodel(&[]).status.code(), Some(2));
    let r = mkmodel(&["check", dir.join("missing").to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}
