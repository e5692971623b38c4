//! `hello`: prints its arguments and environment, one per line, and exits 0. Handy for
//! checking execve and spawn pass both through intact.
#![no_std]
#![no_main]

use libway::{println, Args};

libway::entry!(main);

fn main(args: Args) -> i32 {
    println!("hello: {} argument(s)", args.len());
    for (i, arg) in args.iter().enumerate() {
        println!("  argv[{i}] = {arg:?}");
    }
    let vars = libway::env::vars();
    println!("hello: {} environment variable(s)", vars.len());
    for (i, var) in vars.iter().enumerate() {
        println!("  envp[{i}] = {var:?}");
    }
    0
}
