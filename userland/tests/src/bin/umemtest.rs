//! `umemtest`: unified memory from user space. This file is the minimal runner of the
//! migration checks (`umemtest/migrate.rs`); the topology, placement and fallback checks
//! join it as modules of their own.
#![no_std]
#![no_main]

extern crate alloc;

#[path = "umemtest/migrate.rs"]
mod migrate;

use libway::suite::Suite;
use libway::Args;

libway::entry!(main);

fn main(_args: Args) -> i32 {
    let mut suite = Suite::new("umemtest");
    migrate::run(&mut suite);
    suite.finish()
}
