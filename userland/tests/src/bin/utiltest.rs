//! `utiltest`: the in-guest suite of the coreutils. Each check runs `/bin/waysh -c
//! SCRIPT` with standard output and error on pipes and compares both and the exit status
//! with values worked out by hand from GNU's behaviour (and checked against GNU coreutils
//! 9.1 and grep 3.8 on Linux): `wc` counts and widths, `yes | head`, `ls` of `/bin` and of
//! a prepared tree (`-a`, `-A`, `-l` with times set by `touch -d`), missing files
//! (message on stderr, status), `grep -i -v -n -c -w -E -l -L -q`, `sort -r -n -u -k -t
//! -c`, `uniq`, `head`/`tail -n -c` and `tail -f` on a growing file,
//! `cp`/`mv`/`rm`/`mkdir`/`rmdir`/`touch`/`stat`, `tee`, `seq`, `hexdump`, `kill` (of a
//! real process, and `-l`), `sleep`, `true`/`false`, `echo`, `env`, `pwd`, `uname`, `ps`,
//! `date`, `uptime`, `clear`; `mkmodel` build/show/check with its errors; `lspci` against
//! the `pci_list` records (and that call's errors). Scratch
//! files go to `/tmp/ut`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

coreutils::program!(suite::main);

#[cfg(target_os = "none")]
mod suite {
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    use libway::abi::errno::EINTR;
    use libway::io;
    use libway::process;
    use libway::suite::{expect_output, wait_for, Check, Context, Suite, CHILD_TIMEOUT_MS};
    use libway::Args;

    const SHELL: &str = "/bin/waysh";
    const ENV: [&str; 2] = ["PATH=/bin", "HOME=/"];
    /// Every utility the issue asks for.
    const UTILITIES: [&str; 32] = [
        "ls", "cat", "touch", "write", "rm", "mkdir", "cp", "mv", "grep", "wc", "head", "tail",
        "echo", "yes", "ps", "uname", "clear", "uptime", "pwd", "env", "kill", "sleep", "true",
        "false", "sort", "uniq", "tee", "rmdir", "stat", "hexdump", "seq", "date",
    ];
    #[cfg(target_arch = "x86_64")]
    const ARCH: &str = "x86_64";
    #[cfg(target_arch = "aarch64")]
    const ARCH: &str = "aarch64";

    use libway::suite::Captured as Run;

    /// Runs `waysh -c script` with stdout and stderr on pipes.
    fn sh(script: &str) -> Result<Run, String> {
        libway::suite::run_captured(SHELL, &["waysh", "-c", script], &ENV, "utiltest")
    }

    /// Runs `script`; expects exactly `out`, `err` and `status`.
    fn expect(script: &str, out: &str, err: &str, status: i32) -> Check {
        expect_output(&sh(script)?, out, err, status).map_err(|why| format!("`{script}`: {why}"))
    }

    /// Runs `script`; expects a clean exit and `test` to accept the output.
    fn expect_with(script: &str, test: impl Fn(&str) -> Result<(), String>) -> Check {
        let r = sh(script)?;
        if !r.err.is_empty() || !r.status.exited_with(0) {
            return Err(format!("`{script}`: {}, stderr {:?}", r.status, r.err));
        }
        test(&r.out).map_err(|why| format!("`{script}`: {why}; output {:?}", r.out))
    }

    /// Checks from a table of (name, script, stdout, stderr, status).
    fn table(s: &mut Suite, rows: &[(&str, &str, &str, &str, i32)]) {
        for (name, script, out, err, status) in rows {
            s.check(name, expect(script, out, err, *status));
        }
    }

    fn counting(s: &mut Suite) {
        table(
            s,
            &[
                ("echo_hello_wc_c", "echo hello | wc -c", "6\n", "", 0),
                (
                    "wc_stdin_all_counts",
                    "echo hello world | wc",
                    "      1       2      12\n",
                    "",
                    0,
                ),
                (
                    "wc_lines_words",
                    "/bin/echo -e 'a b\\nc' | wc -l; echo 'x y z' | wc -w",
                    "2\n3\n",
                    "",
                    0,
                ),
                (
                    "wc_files_width_and_total",
                    "/bin/echo -e 'one two\\nthree' > /tmp/ut/f1; echo hello > /tmp/ut/f2; \
                     cd /tmp/ut; wc f1; wc f1 f2",
                    " 2  3 14 f1\n 2  3 14 f1\n 1  1  6 f2\n 3  4 20 total\n",
                    "",
                    0,
                ),
                (
                    "wc_missing_file",
                    "wc /tmp/ut/nosuch",
                    "",
                    "wc: /tmp/ut/nosuch: No such file or directory\n",
                    1,
                ),
                ("yes_head_3", "yes | head -n 3", "y\ny\ny\n", "", 0),
                ("yes_words_head", "yes a b | head -n 2", "a b\na b\n", "", 0),
                (
                    "yes_big_through_pipes",
                    "yes | head -c 100000 | wc -c",
                    "100000\n",
                    "",
                    0,
                ),
                (
                    "three_programs",
                    "echo hello world | cat | cat | wc -c",
                    "12\n",
                    "",
                    0,
                ),
            ],
        );
    }

    fn listing(s: &mut Suite) {
        s.check(
            "ls_bin_lists_the_utilities",
            expect_with("ls /bin", |out| {
                let names: Vec<&str> = out.lines().collect();
                let mut sorted = names.clone();
                sorted.sort_unstable();
                if sorted != names {
                    return Err("not sorted".into());
                }
                match UTILITIES
                    .iter()
                    .chain(["waysh", "utiltest"].iter())
                    .find(|u| !names.contains(u))
                {
                    Some(missing) => Err(format!("{missing} missing")),
                    None => Ok(()),
                }
            }),
        );
        // A tree with fixed times (2020-05-17 10:30 UTC, more than six months ago, so
        // `ls -l` shows the year). Files made by `>` are 0644; 6 and 3 bytes take one
        // page each (8 blocks); directories take none.
        let setup =
            "mkdir -p /tmp/ut/l/d/sub && echo hello > /tmp/ut/l/d/a && echo hi > /tmp/ut/l/d/b && \
                     echo x > /tmp/ut/l/d/.hidden && cd /tmp/ut/l/d && \
                     touch -d '2020-05-17 10:30' a b .hidden sub . ..";
        s.check("ls_prepare_tree", expect(setup, "", "", 0));
        table(
            s,
            &[
                ("ls_plain", "ls /tmp/ut/l/d", "a\nb\nsub\n", "", 0),
                (
                    "ls_a",
                    "ls -a /tmp/ut/l/d",
                    ".\n..\n.hidden\na\nb\nsub\n",
                    "",
                    0,
                ),
                ("ls_A", "ls -A /tmp/ut/l/d", ".hidden\na\nb\nsub\n", "", 0),
                ("ls_r_F", "ls -rF /tmp/ut/l/d", "sub/\nb\na\n", "", 0),
                (
                    "ls_l",
                    "ls -l /tmp/ut/l/d",
                    "total 8\n\
                     -rw-r--r-- 1 root root 6 May 17  2020 a\n\
                     -rw-r--r-- 1 root root 3 May 17  2020 b\n\
                     drwxr-xr-x 2 root root 0 May 17  2020 sub\n",
                    "",
                    0,
                ),
                (
                    "ls_la",
                    "ls -la /tmp/ut/l/d",
                    "total 12\n\
                     drwxr-xr-x 3 root root 4 May 17  2020 .\n\
                     drwxr-xr-x 3 root root 1 May 17  2020 ..\n\
                     -rw-r--r-- 1 root root 2 May 17  2020 .hidden\n\
                     -rw-r--r-- 1 root root 6 May 17  2020 a\n\
                     -rw-r--r-- 1 root root 3 May 17  2020 b\n\
                     drwxr-xr-x 2 root root 0 May 17  2020 sub\n",
                    "",
                    0,
                ),
                (
                    "ls_d_and_files_first",
                    "cd /tmp/ut/l/d; ls -d sub a . ",
                    ".\na\nsub\n",
                    "",
                    0,
                ),
                (
                    "ls_two_dirs_headers",
                    "cd /tmp/ut/l; ls d/sub d",
                    "d:\na\nb\nsub\n\nd/sub:\n",
                    "",
                    0,
                ),
                (
                    "ls_columns",
                    "cd /tmp/ut/l/d; COLUMNS=20 ls -C -a",
                    ".   .hidden  b\n..  a\t     sub\n",
                    "",
                    0,
                ),
                (
                    "ls_recursive",
                    "cd /tmp/ut/l; ls -R",
                    ".:\nd\n\n./d:\na\nb\nsub\n\n./d/sub:\n",
                    "",
                    0,
                ),
                (
                    "ls_t_and_S",
                    "cd /tmp/ut/l/d; touch -d 2021-01-01 b; ls -t; ls -Sr",
                    "b\na\nsub\nsub\nb\na\n",
                    "",
                    0,
                ),
                (
                    "ls_missing_status_2",
                    "ls /tmp/ut/nosuch",
                    "",
                    "ls: cannot access '/tmp/ut/nosuch': No such file or directory\n",
                    2,
                ),
                (
                    "ls_dev_and_stat_device",
                    "ls /dev; stat -c '%F %t,%T %A' /dev/null",
                    "console\nnull\nzero\ncharacter special file 1,3 crw-rw-rw-\n",
                    "",
                    0,
                ),
            ],
        );
    }

    fn files(s: &mut Suite) {
        table(
            s,
            &[
                (
                    "cat_missing_file",
                    "cat /tmp/ut/nosuch",
                    "",
                    "cat: /tmp/ut/nosuch: No such file or directory\n",
                    1,
                ),
                (
                    "cat_files_and_stdin",
                    "write /tmp/ut/w hello world; echo mid | cat /tmp/ut/w - /tmp/ut/nosuch /tmp/ut/w",
                    "hello world\nmid\nhello world\n",
                    "cat: /tmp/ut/nosuch: No such file or directory\n",
                    1,
                ),
                ("cat_n_E", "/bin/echo -e 'a\\n\\nb' | cat -nE", "     1\ta$\n     2\t$\n     3\tb$\n", "", 0),
                ("cat_directory", "cat /tmp", "", "cat: /tmp: Is a directory\n", 1),
                (
                    "cp_file",
                    "mkdir /tmp/ut/m && echo data > /tmp/ut/m/f && cp /tmp/ut/m/f /tmp/ut/m/g && cat /tmp/ut/m/g",
                    "data\n",
                    "",
                    0,
                ),
                ("cp_r_tree", "cp -r /tmp/ut/m /tmp/ut/m2 && ls /tmp/ut/m2", "f\ng\n", "", 0),
                (
                    "cp_dir_without_r",
                    "cp /tmp/ut/m /tmp/ut/m3",
                    "",
                    "cp: -r not specified; omitting directory '/tmp/ut/m'\n",
                    1,
                ),
                (
                    "cp_missing",
                    "cp /tmp/ut/nosuch /tmp/ut/x",
                    "",
                    "cp: cannot stat '/tmp/ut/nosuch': No such file or directory\n",
                    1,
                ),
                ("mv_rename", "mv /tmp/ut/m2/f /tmp/ut/m2/h && ls /tmp/ut/m2", "g\nh\n", "", 0),
                ("mv_into_dir", "mv /tmp/ut/m2/h /tmp/ut/m && ls /tmp/ut/m /tmp/ut/m2", "/tmp/ut/m:\nf\ng\nh\n\n/tmp/ut/m2:\ng\n", "", 0),
                (
                    "mv_missing",
                    "mv /tmp/ut/nosuch /tmp/ut/x",
                    "",
                    "mv: cannot stat '/tmp/ut/nosuch': No such file or directory\n",
                    1,
                ),
                ("rm_dir_refused", "rm /tmp/ut/m2", "", "rm: cannot remove '/tmp/ut/m2': Is a directory\n", 1),
                (
                    "rmdir_not_empty",
                    "rmdir /tmp/ut/m2",
                    "",
                    "rmdir: failed to remove '/tmp/ut/m2': Directory not empty\n",
                    1,
                ),
                (
                    "rm_r_then_gone",
                    "rm -r /tmp/ut/m2; echo $?; ls /tmp/ut/m2",
                    "0\n",
                    "ls: cannot access '/tmp/ut/m2': No such file or directory\n",
                    2,
                ),
                (
                    "rm_missing_and_f",
                    "rm /tmp/ut/nosuch; rm -f /tmp/ut/nosuch; echo $?",
                    "0\n",
                    "rm: cannot remove '/tmp/ut/nosuch': No such file or directory\n",
                    0,
                ),
                ("rm_v", "touch /tmp/ut/rv; rm -v /tmp/ut/rv", "removed '/tmp/ut/rv'\n", "", 0),
                (
                    "mkdir_exists",
                    "mkdir /tmp/ut/m",
                    "",
                    "mkdir: cannot create directory '/tmp/ut/m': File exists\n",
                    1,
                ),
                (
                    "mkdir_p_rmdir_p",
                    "cd /tmp/ut && mkdir -p p/q/r && ls p/q && rmdir -p p/q/r && ls p",
                    "r\n",
                    "ls: cannot access 'p': No such file or directory\n",
                    2,
                ),
                ("rmdir_empty", "mkdir /tmp/ut/e && rmdir /tmp/ut/e && echo gone", "gone\n", "", 0),
                ("touch_creates_empty", "touch /tmp/ut/t && stat -c '%s %F %a' /tmp/ut/t", "0 regular empty file 644\n", "", 0),
                (
                    "touch_d_and_stat_times",
                    "touch -d '2020-05-17 10:30:00' /tmp/ut/t && stat -c '%y|%Y|%x' /tmp/ut/t",
                    "2020-05-17 10:30:00.000000000 +0000|1589711400|2020-05-17 10:30:00.000000000 +0000\n",
                    "",
                    0,
                ),
                (
                    "touch_c_does_not_create",
                    "touch -c /tmp/ut/none; ls /tmp/ut/none",
                    "",
                    "ls: cannot access '/tmp/ut/none': No such file or directory\n",
                    2,
                ),
                (
                    "stat_default_layout",
                    "echo hello > /tmp/ut/st; touch -d '2020-05-17 10:30' /tmp/ut/st; stat /tmp/ut/st | grep -v -e Device -e Change",
                    "  File: /tmp/ut/st\n  Size: 6         \tBlocks: 8          IO Block: 4096   regular file\n\
                     Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)\n\
                     Access: 2020-05-17 10:30:00.000000000 +0000\n\
                     Modify: 2020-05-17 10:30:00.000000000 +0000\n Birth: -\n",
                    "",
                    0,
                ),
                ("stat_dir_format", "stat -c '%n %F %A %h' /tmp/ut/l/d", "/tmp/ut/l/d directory drwxr-xr-x 3\n", "", 0),
                (
                    "stat_missing",
                    "stat /tmp/ut/nosuch",
                    "",
                    "stat: cannot statx '/tmp/ut/nosuch': No such file or directory\n",
                    1,
                ),
                (
                    "tee_two_files",
                    "echo hi | tee /tmp/ut/t1 /tmp/ut/t2; cat /tmp/ut/t1 /tmp/ut/t2",
                    "hi\nhi\nhi\n",
                    "",
                    0,
                ),
                ("tee_append", "echo more | tee -a /tmp/ut/t1 > /dev/null; cat /tmp/ut/t1", "hi\nmore\n", "", 0),
                (
                    "tee_bad_file",
                    "echo x | tee /tmp/ut/nodir/f",
                    "x\n",
                    "tee: /tmp/ut/nodir/f: No such file or directory\n",
                    1,
                ),
                ("write_file", "write /tmp/ut/w2 a  b; cat /tmp/ut/w2", "a b\n", "", 0),
            ],
        );
    }

    fn text(s: &mut Suite) {
        let g =
            "/bin/echo -e 'apple\\nBanana\\ncherry\\napple pie\\ndate' > /tmp/ut/g; cd /tmp/ut; ";
        let sorts =
            "/bin/echo -e '10\\n9\\nbanana\\n100\\napple\\n9\\n-5' > /tmp/ut/s; cd /tmp/ut; ";
        let u = "/bin/echo -e 'a\\na\\nb\\nc\\nc\\nc\\na' > /tmp/ut/u; cd /tmp/ut; ";
        let n = "seq 10 > /tmp/ut/n; cd /tmp/ut; ";
        let rows: Vec<(String, String, &str, &str, i32)> = [
            ("grep_plain", format!("{g}grep apple g"), "apple\napple pie\n", "", 0),
            ("grep_i", format!("{g}grep -i banana g"), "Banana\n", "", 0),
            ("grep_v", format!("{g}grep -v a g"), "cherry\n", "", 0),
            ("grep_n", format!("{g}grep -n e g"), "1:apple\n3:cherry\n4:apple pie\n5:date\n", "", 0),
            ("grep_c", format!("{g}grep -c a g; grep -vc a g"), "4\n1\n", "", 0),
            ("grep_no_match_status_1", format!("{g}grep zzz g"), "", "", 1),
            ("grep_w", format!("{g}grep -w apple g"), "apple\napple pie\n", "", 0),
            ("grep_i_bracket", format!("{g}grep -i '^[ab]' g"), "apple\nBanana\napple pie\n", "", 0),
            ("grep_E_alternation", format!("{g}grep -E '^(apple|date)$' g"), "apple\ndate\n", "", 0),
            ("grep_two_files_prefix", format!("{g}grep -c apple g g"), "g:2\ng:2\n", "", 0),
            ("grep_stdin", format!("{g}cat g | grep -x date"), "date\n", "", 0),
            (
                "grep_l_L_q_h",
                format!("{g}grep -l apple g /dev/null; grep -L apple g /dev/null; grep -q apple g; echo $?; grep -h apple g g | wc -l"),
                "g\n/dev/null\n0\n4\n",
                "",
                0,
            ),
            (
                "grep_binary_file",
                String::from("/bin/echo -e 'ab\\0cd' > /tmp/ut/bin; grep ab /tmp/ut/bin"),
                "",
                "grep: /tmp/ut/bin: binary file matches\n",
                0,
            ),
            (
                "grep_missing_status_2",
                format!("{g}grep x nosuch g"),
                "",
                "grep: nosuch: No such file or directory\n",
                2,
            ),
            ("grep_bad_regex", String::from("grep 'a[' /dev/null"), "", "grep: Unmatched [, [^, [:, [., or [=\n", 2),
            ("sort_bytes", format!("{sorts}sort s"), "-5\n10\n100\n9\n9\napple\nbanana\n", "", 0),
            ("sort_r", format!("{sorts}sort -r s"), "banana\napple\n9\n9\n100\n10\n-5\n", "", 0),
            ("sort_n", format!("{sorts}sort -n s"), "-5\napple\nbanana\n9\n9\n10\n100\n", "", 0),
            ("sort_u", format!("{sorts}sort -u s"), "-5\n10\n100\n9\napple\nbanana\n", "", 0),
            ("sort_nu", format!("{sorts}sort -nu s"), "-5\nbanana\n9\n10\n100\n", "", 0),
            ("sort_rn", format!("{sorts}sort -rn s"), "100\n10\n9\n9\nbanana\napple\n-5\n", "", 0),
            (
                "sort_t_k",
                String::from("/bin/echo -e 'b:2\\na:10\\nc:1' | sort -t: -k2n"),
                "c:1\nb:2\na:10\n",
                "",
                0,
            ),
            (
                "sort_missing_status_2",
                String::from("sort /tmp/ut/nosuch"),
                "",
                "sort: cannot read: /tmp/ut/nosuch: No such file or directory\n",
                2,
            ),
            (
                "sort_c_disorder",
                String::from("/bin/echo -e 'a\\nc\\nb' | sort -c"),
                "",
                "sort: -:3: disorder: b\n",
                1,
            ),
            ("uniq_plain", format!("{u}uniq u"), "a\nb\nc\na\n", "", 0),
            ("uniq_i_f", String::from("/bin/echo -e '1 x\\n2 X\\n3 y' | uniq -i -f 1"), "1 x\n3 y\n", "", 0),
            ("cat_A", String::from("/bin/echo -e 'a\\tb\\x01' | cat -A"), "a^Ib^A$\n", "", 0),
            ("head_c_minus", format!("{n}head -c -18 n"), "1\n2", "", 0),
            ("tail_c_plus", format!("{n}tail -c +19 n"), "10\n", "", 0),
            (
                "date_r_file",
                String::from("touch -d @1000000000 /tmp/ut/dr; date -r /tmp/ut/dr +%s"),
                "1000000000\n",
                "",
                0,
            ),
            ("uniq_c", format!("{u}uniq -c u"), "      2 a\n      1 b\n      3 c\n      1 a\n", "", 0),
            ("uniq_d_u", format!("{u}uniq -d u; uniq -u u"), "a\nc\nb\na\n", "", 0),
            ("sort_uniq_c", format!("{u}sort u | uniq -c"), "      3 a\n      1 b\n      3 c\n", "", 0),
            ("head_n", format!("{n}head -n 3 n; head -2 n"), "1\n2\n3\n1\n2\n", "", 0),
            ("head_minus_n", format!("{n}head -n -7 n"), "1\n2\n3\n", "", 0),
            ("head_c", format!("{n}head -c 5 n"), "1\n2\n3", "", 0),
            ("head_default_10", String::from("seq 12 | head"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "", 0),
            ("head_headers", format!("{n}head -n 1 n n"), "==> n <==\n1\n\n==> n <==\n1\n", "", 0),
            (
                "head_missing",
                String::from("head /tmp/ut/nosuch"),
                "",
                "head: cannot open '/tmp/ut/nosuch' for reading: No such file or directory\n",
                1,
            ),
            ("head_bad_count", String::from("head -n x /dev/null"), "", "head: invalid number of lines: 'x'\n", 1),
            ("tail_n", format!("{n}tail -n 2 n; tail -3 n"), "9\n10\n8\n9\n10\n", "", 0),
            ("tail_plus", format!("{n}tail -n +9 n"), "9\n10\n", "", 0),
            ("tail_c", format!("{n}tail -c 3 n"), "10\n", "", 0),
            ("tail_stdin", String::from("seq 100 | tail -n 1"), "100\n", "", 0),
            ("seq_plain", String::from("seq 3"), "1\n2\n3\n", "", 0),
            ("seq_s_negative_step", String::from("seq -s, 5 -2 1"), "5,3,1\n", "", 0),
            ("seq_w", String::from("seq -w 8 10"), "08\n09\n10\n", "", 0),
            ("seq_fraction", String::from("seq 1 0.5 2"), "1.0\n1.5\n2.0\n", "", 0),
            ("seq_empty", String::from("seq 0; seq 5 1"), "", "", 0),
            (
                "seq_invalid",
                String::from("seq x"),
                "",
                "seq: invalid floating point argument: 'x'\nTry 'seq --help' for more information.\n",
                1,
            ),
            (
                "hexdump_C",
                String::from("echo hello | hexdump -C"),
                "00000000  68 65 6c 6c 6f 0a                                 |hello.|\n00000006\n",
                "",
                0,
            ),
            (
                "hexdump_squeeze",
                String::from("head -c 40 /dev/zero | hexdump -C"),
                "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n\
                 00000020  00 00 00 00 00 00 00 00                           |........|\n00000028\n",
                "",
                0,
            ),
            (
                "hexdump_s_n",
                String::from("echo abcdefghij | hexdump -C -s 2 -n 3"),
                "00000002  63 64 65                                          |cde|\n00000005\n",
                "",
                0,
            ),
            // SHA-256 of "abc" and of nothing: FIPS 180-2's example and the empty digest.
            (
                "sha256sum_stdin",
                String::from("echo -n abc | sha256sum"),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n",
                "",
                0,
            ),
            (
                "sha256sum_files_and_check",
                String::from(
                    "echo -n abc > /tmp/ut/abc; touch /tmp/ut/empty; sha256sum /tmp/ut/abc /tmp/ut/empty > /tmp/ut/sums; cat /tmp/ut/sums; sha256sum -c /tmp/ut/sums; echo x >> /tmp/ut/abc; sha256sum -c /tmp/ut/sums; echo $?",
                ),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /tmp/ut/abc\n\
                 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /tmp/ut/empty\n\
                 /tmp/ut/abc: OK\n/tmp/ut/empty: OK\n/tmp/ut/abc: FAILED\n/tmp/ut/empty: OK\n1\n",
                "sha256sum: WARNING: 1 computed checksum did NOT match\n",
                0,
            ),
            (
                "clear_sequence",
                String::from("clear | hexdump -C"),
                "00000000  1b 5b 48 1b 5b 32 4a 1b  5b 33 4a                 |.[H.[2J.[3J|\n0000000b\n",
                "",
                0,
            ),
        ]
        .into_iter()
        .map(|(a, b, c, d, e)| (String::from(a), b, c, d, e))
        .collect();
        for (name, script, out, err, status) in &rows {
            s.check(name, expect(script, out, err, *status));
        }
    }

    /// `kill` of a real process: a spawned `sleep 100` must end by the signal.
    fn kill_one(cmd: &str, signal: i32) -> Check {
        let pid = process::spawn("/bin/sleep", &["sleep", "100"], &ENV).context("spawn sleep")?;
        let script = format!("{cmd} {pid}");
        let r = sh(&script);
        let status = wait_for(pid, CHILD_TIMEOUT_MS);
        expect_output(&r?, "", "", 0).map_err(|why| format!("`{script}`: {why}"))?;
        let status = status?;
        if status.killed_by(signal) {
            Ok(())
        } else {
            Err(format!(
                "sleep {status}, expected killed by signal {signal}"
            ))
        }
    }

    /// `tail -f` prints what is appended to the file while it runs.
    fn tail_follow() -> Check {
        let path = "/tmp/ut/tf";
        libway::fs::write(path, b"first\n").context(path)?;
        let (r, w) = io::pipe(true).context("pipe")?;
        let pid = match process::fork() {
            Ok(0) => {
                let _ = io::dup2(w, io::STDOUT);
                let e = process::execve("/bin/tail", &["tail", "-f", "-n", "1", path], &ENV);
                libway::eprintln!("utiltest: execve tail: {e}");
                process::exit(126);
            }
            Ok(pid) => pid,
            Err(e) => return Err(format!("fork: {e}")),
        };
        let _ = io::close(w);
        // A watchdog kills `tail` if it never prints, so the read below cannot hang.
        let watchdog = match process::fork() {
            Ok(0) => {
                let _ = libway::time::sleep_ms(30_000);
                let _ = process::kill(pid, libway::abi::signal::SIGKILL);
                process::exit(0);
            }
            Ok(w) => Some(w),
            Err(_) => None,
        };
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let mut appended = false;
        let result = loop {
            if got == b"first\n" && !appended {
                let f = libway::fs::OpenOptions::new().append(true).open(path);
                if let Err(e) = f.and_then(|f| f.write_all(b"second\n")) {
                    break Err(format!("append: {e}"));
                }
                appended = true;
            }
            if got == b"first\nsecond\n" {
                break Ok(());
            }
            match io::read(r, &mut buf) {
                Ok(0) => {
                    break Err(format!(
                        "tail ended early after {:?}",
                        String::from_utf8_lossy(&got)
                    ))
                }
                Ok(n) => got.extend_from_slice(&buf[..n.min(buf.len())]),
                Err(e) if e.code() == EINTR => {}
                Err(e) => break Err(format!("read: {e}")),
            }
            if got.len() > 13 {
                break Err(format!(
                    "unexpected output {:?}",
                    String::from_utf8_lossy(&got)
                ));
            }
        };
        let _ = process::kill(pid, libway::abi::signal::SIGKILL);
        let _ = wait_for(pid, CHILD_TIMEOUT_MS);
        if let Some(w) = watchdog {
            let _ = process::kill(w, libway::abi::signal::SIGKILL);
            let _ = wait_for(w, CHILD_TIMEOUT_MS);
        }
        let _ = io::close(r);
        result
    }

    fn processes(s: &mut Suite) {
        s.check("tail_f_follows_appends", tail_follow());
        s.check("kill_default_term", kill_one("kill", 15));
        s.check("kill_minus_9", kill_one("kill -9", 9));
        s.check("kill_s_name", kill_one("kill -s INT", 2));
        s.check("kill_minus_sigusr1", kill_one("kill -SIGUSR1", 10));
        table(
            s,
            &[
                (
                    "kill_l_translate",
                    "kill -l 9; kill -l KILL; kill -l 143",
                    "KILL\n9\nTERM\n",
                    "",
                    0,
                ),
                (
                    "kill_l_list_starts",
                    "kill -l | head -n 3",
                    "HUP\nINT\nQUIT\n",
                    "",
                    0,
                ),
                (
                    "kill_no_such_process",
                    "kill 99999",
                    "",
                    "kill: 99999: No such process\n",
                    1,
                ),
                (
                    "kill_bad_signal",
                    "kill -s FOO 99999",
                    "",
                    "kill: 'FOO': invalid signal\n",
                    1,
                ),
                (
                    "kill_no_pid",
                    "kill",
                    "",
                    "kill: no process ID specified\nTry 'kill --help' for more information.\n",
                    1,
                ),
                ("sleep_fraction", "sleep 0.1; echo $?", "0\n", "", 0),
                (
                    "sleep_invalid",
                    "sleep x",
                    "",
                    "sleep: invalid time interval 'x'\nTry 'sleep --help' for more information.\n",
                    1,
                ),
                (
                    "true_false_status",
                    "/bin/true; echo $?; /bin/false; echo $?",
                    "0\n1\n",
                    "",
                    0,
                ),
                ("false_status", "/bin/false", "", "", 1),
                (
                    "echo_n_e",
                    "/bin/echo -n a; /bin/echo -e 'b\\tc'; /bin/echo -x",
                    "ab\tc\n-x\n",
                    "",
                    0,
                ),
                ("env_i_assign", "env -i A=1 B=2", "A=1\nB=2\n", "", 0),
                ("env_runs_command", "env -i X=5 /bin/env", "X=5\n", "", 0),
                ("env_u", "env -u HOME | grep -c HOME", "0\n", "", 1),
                (
                    "env_missing_command",
                    "env nosuchcmd",
                    "",
                    "env: 'nosuchcmd': No such file or directory\n",
                    127,
                ),
                (
                    "pwd_program",
                    "cd /tmp; /bin/pwd; /bin/pwd -L",
                    "/tmp\n/tmp\n",
                    "",
                    0,
                ),
                ("uname_default", "uname", "WayOS\n", "", 0),
                (
                    "date_epoch",
                    "date -d @0",
                    "Thu Jan  1 00:00:00 UTC 1970\n",
                    "",
                    0,
                ),
                (
                    "date_format",
                    "date -u -d @1234567890 '+%Y-%m-%d %H:%M:%S %s %a %b %j'",
                    "2009-02-13 23:31:30 1234567890 Fri Feb 044\n",
                    "",
                    0,
                ),
                (
                    "date_bad",
                    "date -d yesterday",
                    "",
                    "date: invalid date 'yesterday'\n",
                    1,
                ),
            ],
        );
        s.check(
            "uname_all",
            expect(
                "uname -a; uname -sm",
                &format!(
                    "WayOS wayos {v} WayOS microkernel {ARCH} WayOS\nWayOS {ARCH}\n",
                    v = coreutils::VERSION
                ),
                "",
                0,
            ),
        );
        s.check(
            "ps_lists_init_and_itself",
            expect_with("ps", |out| {
                // The id columns are 5 wide until a pid passes 99999 (after a long fuzz
                // run), then wider; the STAT column sits where the header says.
                let mut lines = out.lines();
                let head = lines.next().unwrap_or("");
                let w = head.find(" PID").map_or(0, |i| i + 4).max(5);
                let want = alloc::format!(
                    "{:>w$} {:>w$} {:>w$} STAT     TIME CAPS CMD",
                    "PID",
                    "PPID",
                    "PGID"
                );
                if head != want {
                    return Err(alloc::format!("bad header {head:?}"));
                }
                let stat = 3 * (w + 1);
                let rows: Vec<&str> = lines.collect();
                let init = alloc::format!("{:>w$} {:>w$} {:>w$} ", 1, 0, 1);
                if !rows
                    .iter()
                    .any(|l| l.starts_with(&init) && l.ends_with(" /bin/init"))
                {
                    return Err("no init row".into());
                }
                if !rows
                    .iter()
                    .any(|l| l.ends_with(" /bin/ps") && l.get(stat..stat + 1) == Some("R"))
                {
                    return Err("no running ps row".into());
                }
                Ok(())
            }),
        );
        s.check(
            "date_now_matches_the_clock",
            expect_with("date +%s", |out| {
                let shown: i64 = out
                    .trim()
                    .parse()
                    .map_err(|_| String::from("not a number"))?;
                let now = coreutils::sys::now().sec;
                if (now - shown).abs() <= 5 {
                    Ok(())
                } else {
                    Err(format!("{shown} is not within 5 s of {now}"))
                }
            }),
        );
        s.check(
            "uptime_line",
            expect_with("uptime; uptime -p", |out| {
                let mut l = out.lines();
                let first = l.next().unwrap_or("");
                let ok = first.starts_with(' ')
                    && first.get(9..13) == Some(" up ")
                    && l.next().is_some_and(|p| p.starts_with("up "));
                if ok {
                    Ok(())
                } else {
                    Err("not ` HH:MM:SS up ...` and `up ...`".into())
                }
            }),
        );
        // `sleep 1` takes at least a second.
        let start = libway::time::monotonic_ns().unwrap_or(0);
        let r = expect("sleep 1", "", "", 0);
        let ms = libway::time::monotonic_ns()
            .unwrap_or(0)
            .saturating_sub(start)
            / 1_000_000;
        s.check(
            "sleep_1_takes_a_second",
            r.and_then(|()| {
                if ms >= 1000 {
                    Ok(())
                } else {
                    Err(format!("took {ms} ms"))
                }
            }),
        );
    }

    /// `mkmodel` (not a coreutil, but a tool typed at the shell the same way): a model
    /// described in a file written with `echo -e`, built, checked and shown, with the
    /// file size worked out by hand from `docs/waymodel.md` (232-byte header, 2 tensor
    /// entries, 2 nodes, 1 input, 1 output, 3 labels, 7 string bytes, weights at 576:
    /// 588 bytes) and the weights hash from Python's hashlib over the 12 bytes of
    /// `1.0, 2.0, 3.0`; weights from a `file=` relative to the description; errors.
    fn models(s: &mut Suite) {
        let desc = "/bin/echo -e 'model t\\ninput x f32 1,3\\nweight b f32 3 data=1,2,3\\nnode y = add x b\\nnode s = softmax y\\noutput s\\nlabels a b c' > /tmp/ut/m.txt";
        table(
            s,
            &[
                (
                    "mkmodel_build",
                    &format!("{desc} && mkmodel build /tmp/ut/m.txt /tmp/ut/m.waymodel && wc -c /tmp/ut/m.waymodel"),
                    "/tmp/ut/m.waymodel: 588 bytes\n588 /tmp/ut/m.waymodel\n",
                    "",
                    0,
                ),
                (
                    "mkmodel_check",
                    "mkmodel check /tmp/ut/m.waymodel",
                    "/tmp/ut/m.waymodel: ok: model t, 2 tensors (1 inputs), 2 nodes, 1 outputs, 3 labels, arena 128 bytes\n",
                    "",
                    0,
                ),
                (
                    "mkmodel_show",
                    "mkmodel show /tmp/ut/m.waymodel",
                    "model t (version 1, 588 bytes, mode fast)\n\
                     weights sha256 8e628779e6a74ee0b36991c10158f63cafec7d340ad4e075592502c8708524dd\n\
                     tensors 2:\n  0 x f32 1,3 input\n  1 b f32 3 12 bytes\n\
                     nodes 2:\n  %0 = add x b -> f32 1,3\n  %1 = softmax %0 -> f32 1,3\n\
                     outputs 1:\n  s = %1 f32 1,3\nlabels 3: a b c\narena 128 bytes\n",
                    "",
                    0,
                ),
                (
                    "mkmodel_weights_from_file",
                    "head -c 12 /dev/zero > /tmp/ut/z.f32 && /bin/echo -e 'input x f32 3\\nweight z f32 3 file=z.f32\\nnode y = mul x z\\noutput y' > /tmp/ut/z.txt && mkmodel build /tmp/ut/z.txt /tmp/ut/z.waymodel && mkmodel show /tmp/ut/z.waymodel | grep bytes",
                    "/tmp/ut/z.waymodel: 524 bytes\n\
                     model - (version 1, 524 bytes, mode fast)\n  1 z f32 3 12 bytes\narena 64 bytes\n",
                    "",
                    0,
                ),
                (
                    "mkmodel_checks_the_shipped_model",
                    "mkmodel check /testdata/waymodel/valid",
                    "/testdata/waymodel/valid: ok: model corpus-mlp, 5 tensors (1 inputs), 7 nodes, 2 outputs, 3 labels, arena 128 bytes\n",
                    "",
                    0,
                ),
                (
                    "mkmodel_build_error_names_the_line",
                    "/bin/echo -e 'input x f32 2\\nnode y = relu q' > /tmp/ut/bad.txt; mkmodel build /tmp/ut/bad.txt /tmp/ut/bad.waymodel; cat /tmp/ut/bad.waymodel",
                    "",
                    "mkmodel: /tmp/ut/bad.txt: line 2: 'q' is not defined above\n\
                     cat: /tmp/ut/bad.waymodel: No such file or directory\n",
                    1,
                ),
                (
                    "mkmodel_check_truncated",
                    "head -c 100 /tmp/ut/m.waymodel > /tmp/ut/cut.waymodel; mkmodel check /tmp/ut/cut.waymodel",
                    "",
                    "mkmodel: /tmp/ut/cut.waymodel: file: 100 bytes, shorter than the 232-byte header\n",
                    1,
                ),
                (
                    "mkmodel_check_corrupt_weights",
                    "head -c 587 /tmp/ut/m.waymodel > /tmp/ut/c.waymodel; echo -n x >> /tmp/ut/c.waymodel; mkmodel check /tmp/ut/c.waymodel",
                    "",
                    "mkmodel: /tmp/ut/c.waymodel: weights section: weights SHA-256 does not match\n",
                    1,
                ),
                ("mkmodel_usage", "mkmodel frob", "", "mkmodel: usage: mkmodel build DESC OUT | show FILE | check FILE\n", 2),
            ],
        );
    }

    /// `lspci` against the `pci_list` records it prints, and `pci_list`'s own errors.
    fn devices(s: &mut Suite) {
        use libway::pci;
        let records = match pci::pci_list() {
            Ok(r) => r,
            Err(e) => {
                s.check("pci_list_works", Err(format!("pci_list: {e}")));
                return;
            }
        };
        s.check(
            "pci_list_has_a_host_bridge",
            if records
                .iter()
                .any(|d| d.class == 0x06 && d.subclass == 0x00)
            {
                Ok(())
            } else {
                Err(format!("{} records, none of class 0600", records.len()))
            },
        );
        s.check(
            "lspci_n_prints_every_record",
            expect_with("lspci -n", |out| {
                let lines: Vec<&str> = out.lines().collect();
                if lines.len() != records.len() {
                    return Err(format!(
                        "{} lines for {} records",
                        lines.len(),
                        records.len()
                    ));
                }
                for (l, d) in lines.iter().zip(&records) {
                    let head = format!(
                        "{:02x}:{:02x}.{} {:04x}:{:04x} [{:02x}{:02x}]",
                        d.bus, d.dev, d.func, d.vendor, d.device, d.class, d.subclass
                    );
                    let driver = match pci::driver_name(d) {
                        "" => "-",
                        name => name,
                    };
                    if !l.starts_with(&head) || !l.contains(&format!("driver={driver} ")) {
                        return Err(format!("{l:?} does not describe {head} driver={driver}"));
                    }
                }
                Ok(())
            }),
        );
        s.check(
            "lspci_names_classes",
            expect_with("lspci", |out| {
                let want = ["Host bridge"];
                let nic = records.iter().any(|d| d.class == 0x02 && d.subclass == 0);
                for w in want.iter().chain(nic.then_some(&"Ethernet controller")) {
                    if !out.contains(w) {
                        return Err(format!("no {w:?} in {out:?}"));
                    }
                }
                Ok(())
            }),
        );
        s.check(
            "lspci_v_lists_bars",
            expect_with("lspci -v", |out| {
                let bars = records
                    .iter()
                    .flat_map(|d| d.bars.iter())
                    .filter(|&&b| b != 0)
                    .count();
                let shown = out
                    .lines()
                    .filter(|l| l.trim_start().starts_with("BAR"))
                    .count();
                if shown == bars && out.contains("vendor ") {
                    Ok(())
                } else {
                    Err(format!("{shown} BAR lines for {bars} assigned BARs"))
                }
            }),
        );
        s.check(
            "lspci_bad_option",
            expect(
                "lspci -x",
                "",
                "lspci: unexpected argument '-x'\nTry 'lspci -h' for more information.\n",
                2,
            ),
        );
        s.check("pci_list_cap_0_counts", {
            match pci::pci_list_into(&mut []) {
                Ok(n) if n == records.len() => Ok(()),
                other => Err(format!(
                    "pci_list(buf, 0) = {other:?}, want Ok({})",
                    records.len()
                )),
            }
        });
        s.check("pci_list_bad_buffer_is_efault", {
            // SAFETY: the kernel must refuse the address (the page below the user window's
            // base is never mapped); nothing of this program's memory is handed over.
            let r =
                unsafe { libway::sys::call(libway::abi::sys::PCI_LIST, [0x1000, 1, 0, 0, 0, 0]) };
            match r {
                Err(e) if e.0 == libway::abi::errno::EFAULT => Ok(()),
                other => Err(format!("pci_list(0x1000, 1) = {other:?}, want EFAULT")),
            }
        });
    }

    pub fn main(_args: Args) -> i32 {
        let mut s = Suite::new("utiltest");
        s.check(
            "setup_scratch_dir",
            expect("rm -rf /tmp/ut; mkdir /tmp/ut && echo ok", "ok\n", "", 0),
        );
        counting(&mut s);
        listing(&mut s);
        files(&mut s);
        text(&mut s);
        processes(&mut s);
        models(&mut s);
        devices(&mut s);
        let _ = sh("rm -rf /tmp/ut");
        s.finish()
    }
}
