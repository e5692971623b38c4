//! `lspci [-v] [-n] [-h]`: one line per PCI function the kernel found (`pci_list`):
//!
//! ```text
//! 00:02.0 1af4:1000 [0200] Ethernet controller  driver=virtio-net irq=64
//! ```
//!
//! bus:device.function, vendor:device ids, [class subclass], the class name, the bound
//! driver (`-` for none) and the interrupt line (`-` for none: x86_64 IDT vector of an
//! MSI-X route, aarch64 GIC INTID of an INTx pin). `-v` adds the vendor's name, revision,
//! programming interface, header type and one line per assigned BAR; `-n` leaves out the
//! class name. Exit status 0, 1 if the kernel refused, 2 on a usage error.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use libway::pci::{self, PciDevice, PCI_BAR_IO, PCI_HEADER_BRIDGE};
use libway::{eprintln, println, Args};

libway::entry!(main);

const USAGE: &str = "Usage: lspci [-v] [-n] [-h]\n\
List every PCI function: bus:dev.fn, vendor:device, [class], the class name, the driver\n\
bound to it and its interrupt line.\n\n  \
-v           verbose: vendor name, revision, header type and the BARs\n  \
-n           numbers only (no class names)\n  \
-h, --help   show this help";

fn main(args: Args) -> i32 {
    let (mut verbose, mut numeric) = (false, false);
    for a in args.iter().skip(1) {
        match a {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "-v" => verbose = true,
            "-n" => numeric = true,
            "-vn" | "-nv" => (verbose, numeric) = (true, true),
            other => {
                eprintln!("lspci: unexpected argument '{other}'");
                eprintln!("Try 'lspci -h' for more information.");
                return 2;
            }
        }
    }
    let devices = match pci::pci_list() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lspci: pci_list: {e}");
            return 1;
        }
    };
    for d in &devices {
        println!("{}", line(d, numeric));
        if verbose {
            for l in details(d) {
                println!("{l}");
            }
        }
    }
    0
}

fn line(d: &PciDevice, numeric: bool) -> String {
    let mut s = format!(
        "{:02x}:{:02x}.{} {:04x}:{:04x} [{:02x}{:02x}]",
        d.bus, d.dev, d.func, d.vendor, d.device, d.class, d.subclass
    );
    if !numeric {
        match pci::class_name(d.class, d.subclass) {
            Some(name) => s.push_str(&format!(" {name}")),
            None => s.push_str(&format!(" Class {:02x}{:02x}", d.class, d.subclass)),
        }
    }
    let driver = pci::driver_name(d);
    s.push_str(&format!(
        "  driver={} irq={}",
        if driver.is_empty() { "-" } else { driver },
        if d.irq == u32::MAX {
            String::from("-")
        } else {
            format!("{}", d.irq)
        }
    ));
    s
}

fn details(d: &PciDevice) -> alloc::vec::Vec<String> {
    let mut out = alloc::vec::Vec::new();
    out.push(format!(
        "        vendor {} rev {:02x} prog-if {:02x} header {}",
        pci::vendor_name(d.vendor).unwrap_or("unknown"),
        d.revision,
        d.prog_if,
        match d.header_type {
            0 => "device",
            PCI_HEADER_BRIDGE => "pci-bridge",
            2 => "cardbus-bridge",
            _ => "unknown",
        }
    ));
    for (i, &bar) in d.bars.iter().enumerate() {
        if bar == 0 {
            continue;
        }
        if bar & PCI_BAR_IO != 0 {
            out.push(format!("        BAR{i} io  {:#x}", bar & !PCI_BAR_IO));
        } else {
            out.push(format!("        BAR{i} mem {bar:#x}"));
        }
    }
    out
}
