//! The NIC and QEMU's user network: the DHCP lease (10.0.2.15/24, gateway 10.0.2.2,
//! DNS 10.0.2.3 are QEMU's fixed slirp addresses), `ping 10.0.2.2`, the NIC's counters,
//! and name resolution answering (a dotted quad at once; a name that does not exist with
//! an error, in bounded time). Skipped with the reason when there is no NIC.

use alloc::format;
use alloc::string::String;

use libway::abi::errno::{EHOSTUNREACH, ENETUNREACH, ENODEV, ENOENT, ETIMEDOUT};
use libway::abi::ipc::Message;
use libway::abi::netd::{self, IfInfo, Resolved, IF_DHCP, IF_LOOPBACK};
use libway::abi::usernet;
use libway::abi::zerocopy::FromBytes;
use libway::ipc::{ns, Timeout};
use libway::net::{self, Ipv4Addr};
use libway::suite::{expect_eq, expect_exit, Check, Context, Suite};

use crate::util::{now_ns, sh};

/// How long netd may take to get its lease after boot.
const DHCP_WAIT_NS: u64 = 20_000_000_000;
/// How long a failing lookup may take.
const RESOLVE_BOUND_NS: u64 = 30_000_000_000;

pub fn run(s: &mut Suite) {
    match net::nic_info(0) {
        Ok(_) => {}
        Err(e) if e.code() == ENODEV => {
            s.skip("eth0 checks", "no NIC: the machine has no network device");
            return;
        }
        Err(e) => {
            s.check("nic_info", Err(format!("nic_info(0): {e}")));
            return;
        }
    }
    s.check("eth0_dhcp_lease", dhcp());
    s.check("ping_gateway", ping_gateway());
    s.check("nic_counters_move", nic_counters());
    s.check("resolve_dotted_quad", resolve_dotted());
    s.check("resolve_unknown_fails_in_time", resolve_unknown());
}

fn eth0() -> Result<IfInfo, String> {
    let list = net::interfaces().context("interfaces")?;
    list.into_iter()
        .find(|i| i.flags & IF_LOOPBACK == 0)
        .ok_or_else(|| "no interface besides lo".into())
}

fn dhcp() -> Check {
    let start = now_ns();
    let i = loop {
        let i = eth0()?;
        if i.flags & IF_DHCP != 0 {
            break i;
        }
        if now_ns() - start > DHCP_WAIT_NS {
            return Err(format!(
                "no DHCP lease after {} s (address {})",
                DHCP_WAIT_NS / 1_000_000_000,
                Ipv4Addr(i.addr)
            ));
        }
        let _ = libway::time::sleep_ms(200);
    };
    expect_eq(Ipv4Addr(i.addr), Ipv4Addr(usernet::GUEST)).context("address")?;
    expect_eq(i.prefix_len, 24).context("prefix")?;
    expect_eq(Ipv4Addr(i.gateway), Ipv4Addr(usernet::GATEWAY)).context("gateway")?;
    expect_eq(Ipv4Addr(i.dns[0]), Ipv4Addr(usernet::DNS)).context("dns")?;
    let nic = net::nic_info(0).context("nic_info")?;
    expect_eq(i.mac, nic.mac).context("eth0's MAC is the NIC's")?;
    // The shell command shows the same.
    let r = sh("ifinfo")?;
    if !r.out.contains("inet 10.0.2.15/24 dynamic") {
        return Err(format!("ifinfo printed {:?}", r.out));
    }
    Ok(())
}

fn ping_gateway() -> Check {
    let r = sh("ping -c 3 -i 0.3 -W 3 10.0.2.2")?;
    expect_exit(r.status, 0).map_err(|w| format!("{w}; {:?} {:?}", r.out, r.err))?;
    if !r.out.contains("3 packets transmitted") {
        return Err(format!("summary missing in {:?}", r.out));
    }
    if !r
        .out
        .lines()
        .any(|l| l.contains("bytes from 10.0.2.2: icmp_seq="))
    {
        return Err(format!("no reply line in {:?}", r.out));
    }
    Ok(())
}

/// Traffic moves the NIC's counters: a ping's frames are received and sent.
fn nic_counters() -> Check {
    let before = net::nic_info(0).context("nic_info")?;
    let r = sh("ping -c 2 -i 0.2 10.0.2.2")?;
    expect_exit(r.status, 0).context("ping")?;
    let after = net::nic_info(0).context("nic_info")?;
    if after.rx_frames < before.rx_frames + 2 || after.tx_frames < before.tx_frames + 2 {
        return Err(format!(
            "rx {} -> {}, tx {} -> {}: expected at least 2 more each",
            before.rx_frames, after.rx_frames, before.tx_frames, after.tx_frames
        ));
    }
    if after.holder == 0 {
        return Err("no process holds the NIC".into());
    }
    Ok(())
}

/// netd's RESOLVE, asked directly.
fn resolve_raw(name: &str) -> Result<Resolved, libway::Errno> {
    let server = ns::lookup(netd::NAME)?;
    let mut m = Message::new(netd::RESOLVE);
    m.data[..name.len()].copy_from_slice(name.as_bytes());
    m.len = name.len() as u32;
    server.call(&mut m, Timeout::ms(RESOLVE_BOUND_NS / 1_000_000))?;
    if m.label != 0 {
        return Err(libway::Errno(m.label as isize));
    }
    Resolved::read_from_prefix(&m.data)
        .map(|(r, _)| r)
        .map_err(|_| libway::Errno(libway::abi::errno::EIO))
}

fn resolve_dotted() -> Check {
    expect_eq(
        net::resolve("10.0.2.2"),
        Ok(alloc::vec![Ipv4Addr(usernet::GATEWAY)]),
    )
    .context("libway")?;
    let r = resolve_raw("10.0.2.3").context("netd")?;
    expect_eq((r.count, r.addrs[0]), (1, usernet::DNS)).context("netd's answer")
}

fn resolve_unknown() -> Check {
    let start = now_ns();
    let r = net::resolve("no-such-host.invalid");
    let ms = (now_ns() - start) / 1_000_000;
    match r {
        Err(e) if [ENOENT, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH].contains(&e.code()) => {}
        other => {
            return Err(format!(
                "resolve gave {other:?}, expected ENOENT or ETIMEDOUT"
            ))
        }
    }
    if ms * 1_000_000 > RESOLVE_BOUND_NS {
        return Err(format!("took {ms} ms"));
    }
    Ok(())
}
