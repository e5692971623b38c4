//! `hexdump -C`'s canonical format: offset, 16 bytes in hex in two groups of 8, the same
//! bytes as text between `|`, a line of `*` for runs of identical lines (unless `-v`), and
//! the final offset.

use alloc::format;
use alloc::vec::Vec;

/// Formats a stream fed in chunks.
pub struct Hexdump {
    addr: u64,
    line: [u8; 16],
    len: usize,
    prev: Option<[u8; 16]>,
    squeezing: bool,
    verbose: bool,
}

impl Hexdump {
    /// Starts at offset `addr` (what `-s` skipped); `verbose` is `-v`.
    pub fn new(addr: u64, verbose: bool) -> Hexdump {
        Hexdump {
            addr,
            line: [0; 16],
            len: 0,
            prev: None,
            squeezing: false,
            verbose,
        }
    }

    fn write_line(&self, bytes: &[u8], out: &mut Vec<u8>) {
        let start = self.addr - bytes.len() as u64;
        out.extend_from_slice(format!("{start:08x}  ").as_bytes());
        for i in 0..16 {
            match bytes.get(i) {
                Some(b) => out.extend_from_slice(format!("{b:02x} ").as_bytes()),
                None => out.extend_from_slice(b"   "),
            }
            if i == 7 {
                out.push(b' ');
            }
        }
        out.extend_from_slice(b" |");
        for &b in bytes {
            out.push(if (0x20..0x7f).contains(&b) { b } else { b'.' });
        }
        out.extend_from_slice(b"|\n");
    }

    /// Appends the lines `data` completes.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            self.line[self.len] = b;
            self.len += 1;
            self.addr += 1;
            if self.len == 16 {
                self.len = 0;
                let line = self.line;
                if !self.verbose && self.prev == Some(line) {
                    if !self.squeezing {
                        out.extend_from_slice(b"*\n");
                        self.squeezing = true;
                    }
                } else {
                    self.squeezing = false;
                    self.write_line(&line, out);
                }
                self.prev = Some(line);
            }
        }
    }

    /// Appends the last, partial line and the final offset (nothing at all for empty
    /// input at offset 0).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.len > 0 {
            let line = self.line;
            self.write_line(&line[..self.len], out);
            self.len = 0;
        }
        if self.addr > 0 {
            out.extend_from_slice(format!("{:08x}\n", self.addr).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(data: &[u8], start: u64, verbose: bool) -> alloc::string::String {
        let mut h = Hexdump::new(start, verbose);
        let mut out = Vec::new();
        for chunk in data.chunks(5) {
            h.feed(chunk, &mut out);
        }
        h.finish(&mut out);
        alloc::string::String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_lines() {
        assert_eq!(
            dump(b"hello world\nabcdefghijklmnop", 0, false),
            "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a 61 62 63 64  |hello world.abcd|\n\
             00000010  65 66 67 68 69 6a 6b 6c  6d 6e 6f 70              |efghijklmnop|\n\
             0000001c\n"
        );
        assert_eq!(
            dump(b"hello\n", 0, false),
            "00000000  68 65 6c 6c 6f 0a                                 |hello.|\n00000006\n"
        );
        assert_eq!(
            dump(b"\x00\x7f\x80\xff \t~", 0, false),
            "00000000  00 7f 80 ff 20 09 7e                              |.... .~|\n00000007\n"
        );
        assert_eq!(dump(b"", 0, false), "");
    }

    #[test]
    fn squeezing_repeats() {
        let zeros = [0u8; 64];
        assert_eq!(
            dump(&zeros, 0, false),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000040\n"
        );
        let mut d = alloc::vec![0u8; 32];
        d.push(b'x');
        d.extend_from_slice(&[0; 16]);
        assert_eq!(
            dump(&d, 0, false),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000020  78 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |x...............|\n\
             00000030  00                                                |.|\n\
             00000031\n"
        );
        assert_eq!(
            dump(&[0; 40], 0, true),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             00000020  00 00 00 00 00 00 00 00                           |........|\n\
             00000028\n"
        );
    }

    #[test]
    fn starting_offset() {
        assert_eq!(
            dump(b"defghijklmnopqrstuvw", 3, false),
            "00000003  64 65 66 67 68 69 6a 6b  6c 6d 6e 6f 70 71 72 73  |defghijklmnopqrs|\n\
             00000013  74 75 76 77                                       |tuvw|\n\
             00000017\n"
        );
        // Skipping past the end prints only the offset.
        assert_eq!(dump(b"", 26, false), "0000001a\n");
    }
}
