//! `/dev` belongs to the kernel: no program may remove, rename or add a device name (there
//! are no users to own them, so the names are sealed for everyone), while the devices
//! themselves stay usable. Before the seal, any program could `unlink("/dev/null")` or
//! rename `/dev/console` away from every program started after it.

use alloc::format;

use libway::abi::errno::{EBUSY, EROFS};
use libway::abi::fcntl::{O_CREAT, O_RDONLY, O_WRONLY};
use libway::fs;
use libway::suite::{expect_errno, Check, Context, Suite};

/// Every name-changing call on an existing device node is `EROFS`.
fn device_names_cannot_change() -> Check {
    for dev in ["/dev/null", "/dev/zero", "/dev/console"] {
        expect_errno(fs::remove_file(dev), EROFS).context(&format!("unlink {dev}"))?;
        expect_errno(fs::rename(dev, "/dev/moved"), EROFS).context(&format!("rename {dev}"))?;
    }
    // Over an existing name, and into /dev from outside (a different mount: EXDEV or EROFS,
    // never success).
    expect_errno(fs::rename("/dev/zero", "/dev/null"), EROFS).context("rename over /dev/null")?;
    if fs::rename("/tmp", "/dev/tmp").is_ok() {
        return Err("a directory was renamed into /dev".into());
    }
    Ok(())
}

/// Nothing new appears in `/dev`, and `/dev` itself stays where it is.
fn nothing_new_in_dev() -> Check {
    expect_errno(fs::open_raw("/dev/new", O_CREAT | O_WRONLY, 0o644), EROFS)
        .context("open O_CREAT")?;
    expect_errno(fs::mkdir("/dev/dir", 0o755), EROFS).context("mkdir")?;
    expect_errno(fs::remove_dir("/dev"), EBUSY).context("rmdir /dev")?;
    expect_errno(fs::rename("/dev", "/dev2"), EBUSY).context("rename /dev")?;
    if fs::stat("/dev/new").is_ok() || fs::stat("/dev/dir").is_ok() {
        return Err("a refused call left a name behind".into());
    }
    Ok(())
}

/// After all that, the devices still work: `/dev/null` swallows writes, `/dev/zero`
/// reads zeros, and an existing node still opens with `O_CREAT` (it needs no new name).
fn devices_still_work() -> Check {
    let null = fs::open_raw("/dev/null", O_CREAT | O_WRONLY, 0o644).context("open /dev/null")?;
    let wrote = libway::io::write(null, b"gone");
    let _ = libway::io::close(null);
    if wrote != Ok(4) {
        return Err(format!("write to /dev/null: {wrote:?}"));
    }
    let zero = fs::open_raw("/dev/zero", O_RDONLY, 0).context("open /dev/zero")?;
    let mut buf = [0xaau8; 16];
    let got = libway::io::read(zero, &mut buf);
    let _ = libway::io::close(zero);
    match got {
        Ok(16) if buf.iter().all(|&b| b == 0) => Ok(()),
        other => Err(format!("read /dev/zero: {other:?} {buf:?}")),
    }
}

pub fn run(s: &mut Suite) {
    s.check("device_names_cannot_change", device_names_cannot_change());
    s.check("nothing_new_in_dev", nothing_new_in_dev());
    s.check("devices_still_work_after_attempts", devices_still_work());
}
