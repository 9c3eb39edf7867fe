//! `linux.netDevices` (runtime-spec 1.3): network devices of the runtime's network namespace moved
//! into the container's at create, renamed as asked, with their permanent global addresses, and set
//! up. The init asks for the move (sending a descriptor of its network namespace) as soon as its
//! namespaces exist, before the root filesystem, hooks and sysctls; the runtime moves them from its
//! own side over rtnetlink. As the spec says, the runtime never moves a device out again once the
//! container exists: at delete, what becomes of it is the namespace owner's (or the kernel's, when
//! the namespace goes) business. Only a create that fails moves the devices back, so that it leaves
//! things as they were.

use crate::config::Invalid;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The devices to move, as (host name, name in the container), in a stable order.
fn devices(spec: &Spec) -> Vec<(&str, &str)> {
    let mut list: Vec<(&str, &str)> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .into_iter()
        .flatten()
        .map(|(host, device)| {
            let inside = device.name().as_deref().filter(|n| !n.is_empty());
            (host.as_str(), inside.unwrap_or(host.as_str()))
        })
        .collect();
    list.sort_unstable();
    list
}

/// Whether the spec moves any device (the init then asks the runtime to).
pub fn wanted(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .is_some_and(|m| !m.is_empty())
}

/// The kernel's rule for interface names (dev_valid_name): 1 to 15 bytes, not "." or "..", no
/// '/', ':' or white space; a new name may be a template with one "%d" for the kernel to fill.
fn name_error(name: &str, template_ok: bool) -> Option<String> {
    if name.is_empty() || name.len() > 15 {
        return Some(format!("{name:?} is not 1 to 15 bytes long"));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Some(format!(
            "{name:?} is not a valid interface name (no \"/\", \":\" or white space)"
        ));
    }
    if name.contains('%') {
        let template = name.matches('%').count() == 1 && name.contains("%d");
        if !(template_ok && template) {
            return Some(format!(
                "{name:?}: a \"%\" may only appear as one \"%d\" template in the new name"
            ));
        }
    }
    None
}

/// Checks what can be checked from the config alone (also for exec, with the saved config).
pub fn check(spec: &Spec) -> Result<(), Invalid> {
    let list = devices(spec);
    if list.is_empty() {
        return Ok(());
    }
    let has_netns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == LinuxNamespaceType::Network));
    if !has_netns {
        return Err(Invalid::new(
            "linux.netDevices",
            "moving devices needs a network namespace (new or joined) in linux.namespaces",
        ));
    }
    for (i, (host, inside)) in list.iter().enumerate() {
        if let Some(reason) = name_error(host, false) {
            return Err(Invalid::new(format!("linux.netDevices.{host}"), reason));
        }
        if let Some(reason) = name_error(inside, true) {
            return Err(Invalid::new(
                format!("linux.netDevices.{host}.name"),
                reason,
            ));
        }
        if let Some((other, _)) = list[..i]
            .iter()
            .find(|(_, name)| name == inside && !inside.contains('%'))
        {
            return Err(Invalid::new(
                format!("linux.netDevices.{host}.name"),
                format!("{inside:?} is also the name of {other:?} in the container"),
            ));
        }
    }
    Ok(())
}

/// At create, before anything is made: each device exists in the runtime's network namespace, and
/// the container's is not that same namespace.
pub fn check_host(spec: &Spec) -> Result<(), Invalid> {
    let list = devices(spec);
    if list.is_empty() {
        return Ok(());
    }
    let joined = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .find(|ns| ns.typ() == LinuxNamespaceType::Network)
        .and_then(|ns| ns.path().clone());
    if let Some(path) = joined {
        let same = |a: &std::fs::Metadata, b: &std::fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            a.dev() == b.dev() && a.ino() == b.ino()
        };
        if let (Ok(theirs), Ok(ours)) = (
            std::fs::metadata(&path),
            std::fs::metadata("/proc/thread-self/ns/net"),
        ) && same(&theirs, &ours)
        {
            return Err(Invalid::new(
                "linux.netDevices",
                format!(
                    "the container joins the runtime's own network namespace ({}): devices cannot move there",
                    path.display()
                ),
            ));
        }
    }
    for (host, _) in list {
        let name = std::ffi::CString::new(host)
            .map_err(|_| Invalid::new(format!("linux.netDevices.{host}"), "contains a NUL byte"))?;
        // SAFETY: if_nametoindex reads a NUL-terminated string that outlives the call.
        if unsafe { libc::if_nametoindex(name.as_ptr()) } == 0 {
            return Err(Invalid::new(
                format!("linux.netDevices.{host}"),
                format!("no network device {host:?} in the runtime's network namespace"),
            ));
        }
    }
    Ok(())
}

/// Devices moved into a container being created, to move back if the create fails.
pub struct Moved {
    host_ns: OwnedFd,
    /// Keeps the container's network namespace (and so the devices) alive until restored.
    container_ns: OwnedFd,
    devices: Vec<MovedDevice>,
}

struct MovedDevice {
    host_name: String,
    /// Its name in the container (a "%d" template resolved).
    name: String,
    addresses: Vec<rtnl::Address>,
    was_up: bool,
}

fn fail(host: &str, what: impl std::fmt::Display, why: impl std::fmt::Display) -> Error {
    Error::Other(format!("linux.netDevices.{host}: {what}: {why}"))
}

/// Moves every device of the spec into the network namespace `container_ns`. On failure, what was
/// moved is moved back and the error says which device failed at what.
pub fn move_all(spec: &Spec, container_ns: OwnedFd) -> Result<Moved> {
    let host_ns = rustix::fs::open(
        "/proc/thread-self/ns/net",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| {
        Error::Other(format!(
            "linux.netDevices: open the runtime's network namespace: {}",
            std::io::Error::from(e)
        ))
    })?;
    let host = rtnl::Socket::open()
        .map_err(|e| Error::Other(format!("linux.netDevices: rtnetlink socket: {e}")))?;
    let inside = rtnl::Socket::open_in(container_ns.as_fd(), host_ns.as_fd()).map_err(|e| {
        Error::Other(format!(
            "linux.netDevices: rtnetlink socket in the container's network namespace: {e}"
        ))
    })?;
    // Everything that can be checked first, so that a refusal moves nothing.
    let mut links = Vec::new();
    for (host_name, name) in devices(spec) {
        let link = host
            .link_by_name(host_name)
            .map_err(|e| fail(host_name, "find it in the runtime's network namespace", e))?;
        if !name.contains('%') && inside.link_by_name(name).is_ok() {
            return Err(fail(
                host_name,
                format!("move it as {name:?}"),
                "the container's network namespace already has a device of that name",
            ));
        }
        links.push((host_name, name, link));
    }
    let mut moved = Moved {
        host_ns,
        container_ns,
        devices: Vec::new(),
    };
    for (host_name, name, link) in links {
        if let Err(e) = move_one(&host, &inside, &mut moved, host_name, name, &link) {
            moved.restore_with(&host, &inside);
            return Err(e);
        }
    }
    Ok(moved)
}

fn move_one(
    host: &rtnl::Socket,
    inside: &rtnl::Socket,
    moved: &mut Moved,
    host_name: &str,
    name: &str,
    link: &rtnl::Link,
) -> Result<()> {
    let addresses = host
        .addresses(link.index)
        .map_err(|e| fail(host_name, "read its addresses", e))?
        .into_iter()
        .filter(|a| a.permanent_global())
        .collect();
    let before: Vec<i32> = if name.contains('%') {
        inside
            .links()
            .map_err(|e| fail(host_name, "list the container's devices", e))?
            .iter()
            .map(|l| l.index)
            .collect()
    } else {
        Vec::new()
    };
    host.move_link(link.index, moved.container_ns.as_fd(), name)
        .map_err(|e| {
            fail(
                host_name,
                format!("move it into the container's network namespace as {name:?}"),
                e,
            )
        })?;
    // Found again in the container: by name, or for a template as the device that was not there.
    let found = if name.contains('%') {
        inside.links().map(|all| {
            all.into_iter()
                .find(|l| !before.contains(&l.index))
                .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENODEV))
        })
    } else {
        inside.link_by_name(name).map(Ok)
    };
    let placed = found.and_then(|r| r);
    // Recorded at once: from here on a failure moves it back.
    moved.devices.push(MovedDevice {
        host_name: host_name.to_string(),
        name: placed
            .as_ref()
            .map_or_else(|_| name.to_string(), |l| l.name.clone()),
        addresses,
        was_up: link.up,
    });
    let placed = placed.map_err(|e| fail(host_name, "find it in the container", e))?;
    let device = moved.devices.last().map(|d| d.addresses.as_slice());
    for address in device.unwrap_or_default() {
        inside
            .add_address(placed.index, address)
            .map_err(|e| fail(host_name, format!("add address {address}"), e))?;
    }
    inside
        .set_up(placed.index, true)
        .map_err(|e| fail(host_name, format!("set {:?} up", placed.name), e))
}

impl Moved {
    /// Moves the devices back under their own names, with their addresses and up state (for a
    /// create that failed). Failures are warnings: there is nothing more to undo.
    pub fn restore(self) {
        let host = rtnl::Socket::open();
        let inside = rtnl::Socket::open_in(self.container_ns.as_fd(), self.host_ns.as_fd());
        match (host, inside) {
            (Ok(host), Ok(inside)) => self.restore_with(&host, &inside),
            (Err(e), _) | (_, Err(e)) => eprintln!(
                "berth-runtime: warning: linux.netDevices: cannot move the devices back: rtnetlink socket: {e}"
            ),
        }
    }

    fn restore_with(&self, host: &rtnl::Socket, inside: &rtnl::Socket) {
        for device in self.devices.iter().rev() {
            if let Err(e) = restore_one(host, inside, self.host_ns.as_fd(), device) {
                eprintln!(
                    "berth-runtime: warning: linux.netDevices.{}: cannot move it back from the container ({:?}): {e}",
                    device.host_name, device.name
                );
            }
        }
    }
}

fn restore_one(
    host: &rtnl::Socket,
    inside: &rtnl::Socket,
    host_ns: BorrowedFd<'_>,
    device: &MovedDevice,
) -> std::io::Result<()> {
    let link = inside.link_by_name(&device.name)?;
    inside.move_link(link.index, host_ns, &device.host_name)?;
    let back = host.link_by_name(&device.host_name)?;
    for address in &device.addresses {
        match host.add_address(back.index, address) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            other => other?,
        }
    }
    host.set_up(back.index, device.was_up)
}

/// In the init, once its namespaces exist: hands its network namespace to the runtime, which moves
/// the devices in, and waits until it has.
pub(crate) fn request_move(
    channel: &crate::channel::Channel,
) -> Result<(), crate::channel::InitFailure> {
    use crate::channel::{InitFailure, InitMessage, RuntimeMessage};
    let netns = rustix::fs::open(
        "/proc/self/ns/net",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| InitFailure::os("linux.netDevices: open /proc/self/ns/net", &e.into()))?;
    channel
        .send_with_fd(&InitMessage::MoveNetDevices, netns.as_fd())
        .map_err(|e| {
            InitFailure::os("linux.netDevices: ask the runtime to move the devices", &e)
        })?;
    match channel.recv::<RuntimeMessage>() {
        Ok(Some(RuntimeMessage::NetDevicesMoved)) => Ok(()),
        Ok(_) => Err(InitFailure::msg(
            "linux.netDevices: wait for the devices",
            "the runtime went away",
        )),
        Err(e) => Err(InitFailure::os(
            "linux.netDevices: wait for the devices",
            &e,
        )),
    }
}

/// Just enough rtnetlink: find links, list addresses, move a link to another network namespace
/// (renaming it), add an address, set a link up or down. One request at a time, each acknowledged.
mod rtnl {
    use crate::sys;
    use std::cell::Cell;
    use std::fmt;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    const RTM_NEWLINK: u16 = 16;
    const RTM_GETLINK: u16 = 18;
    const RTM_NEWADDR: u16 = 20;
    const RTM_GETADDR: u16 = 22;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_DUMP_INTR: u16 = 0x10;
    const NLM_F_CAPPED: u16 = 0x100;
    const NLM_F_ACK_TLVS: u16 = 0x200;
    const NLM_F_DUMP: u16 = 0x300;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    const NLMSGERR_ATTR_MSG: u16 = 1;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_NET_NS_FD: u16 = 28;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_BROADCAST: u16 = 4;
    const IFA_FLAGS: u16 = 8;
    const IFA_F_NODAD: u32 = 0x02;
    const IFA_F_HOMEADDRESS: u32 = 0x10;
    const IFA_F_PERMANENT: u32 = 0x80;
    const IFA_F_MANAGETEMPADDR: u32 = 0x100;
    const IFA_F_NOPREFIXROUTE: u32 = 0x200;
    const IFA_F_MCAUTOJOIN: u32 = 0x400;
    /// Address flags a user sets (the rest is the kernel's state of the address).
    const IFA_USER_FLAGS: u32 = IFA_F_NODAD
        | IFA_F_HOMEADDRESS
        | IFA_F_MANAGETEMPADDR
        | IFA_F_NOPREFIXROUTE
        | IFA_F_MCAUTOJOIN;
    const RT_SCOPE_UNIVERSE: u8 = 0;
    const HEADER: usize = 16;
    const IFINFOMSG: usize = 16;
    const IFADDRMSG: usize = 8;

    fn align(n: usize) -> usize {
        (n + 3) & !3
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    /// The (type, payload) attributes packed in `b`.
    fn attributes(mut b: &[u8]) -> Vec<(u16, &[u8])> {
        let mut out = Vec::new();
        while let (Some(len), Some(kind)) = (u16_at(b, 0), u16_at(b, 2)) {
            let len = usize::from(len);
            if len < 4 || len > b.len() {
                break;
            }
            out.push((kind & 0x3fff, &b[4..len]));
            b = &b[align(len).min(b.len())..];
        }
        out
    }

    fn c_string(b: &[u8]) -> String {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    }

    /// One request: a fixed header (ifinfomsg or ifaddrmsg) and attributes.
    struct Request {
        buf: Vec<u8>,
    }

    impl Request {
        fn new(kind: u16, flags: u16, fixed: &[u8]) -> Self {
            let mut buf = vec![0u8; HEADER];
            buf[4..6].copy_from_slice(&kind.to_ne_bytes());
            buf[6..8].copy_from_slice(&flags.to_ne_bytes());
            buf.extend_from_slice(fixed);
            buf.resize(align(buf.len()), 0);
            Request { buf }
        }

        fn attr(mut self, kind: u16, data: &[u8]) -> Self {
            let len = 4 + data.len();
            self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
            self.buf.extend_from_slice(&kind.to_ne_bytes());
            self.buf.extend_from_slice(data);
            self.buf.resize(align(self.buf.len()), 0);
            self
        }

        fn name(self, kind: u16, name: &str) -> Self {
            let mut data = name.as_bytes().to_vec();
            data.push(0);
            self.attr(kind, &data)
        }
    }

    fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; IFINFOMSG] {
        let mut m = [0u8; IFINFOMSG];
        m[4..8].copy_from_slice(&index.to_ne_bytes());
        m[8..12].copy_from_slice(&flags.to_ne_bytes());
        m[12..16].copy_from_slice(&change.to_ne_bytes());
        m
    }

    /// A failed request: the kernel's errno and, where it gave one, its extended message.
    fn nl_error(errno: i32, message: Option<String>) -> io::Error {
        let os = io::Error::from_raw_os_error(errno);
        match message.filter(|m| !m.is_empty()) {
            // Keeps the errno (raw_os_error) only without a message; the message is worth more.
            Some(m) => io::Error::new(os.kind(), format!("{os}: {m}")),
            None => os,
        }
    }

    pub struct Link {
        pub index: i32,
        pub name: String,
        pub up: bool,
    }

    fn link_of(payload: &[u8]) -> Option<Link> {
        let index = i32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
        let flags = u32_at(payload, 8)?;
        let name = attributes(payload.get(IFINFOMSG..)?)
            .into_iter()
            .find(|(kind, _)| *kind == IFLA_IFNAME)
            .map(|(_, b)| c_string(b))?;
        Some(Link {
            index,
            name,
            up: flags & libc::IFF_UP as u32 != 0,
        })
    }

    /// An address as read, to add again elsewhere.
    pub struct Address {
        family: u8,
        prefix_len: u8,
        flags: u32,
        scope: u8,
        index: u32,
        local: Option<Vec<u8>>,
        address: Option<Vec<u8>>,
        broadcast: Option<Vec<u8>>,
    }

    impl Address {
        /// The spec keeps permanent addresses (IFA_F_PERMANENT) of global scope.
        pub fn permanent_global(&self) -> bool {
            self.flags & IFA_F_PERMANENT != 0 && self.scope == RT_SCOPE_UNIVERSE
        }
    }

    impl fmt::Display for Address {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let bytes = self.local.as_ref().or(self.address.as_ref());
            match bytes.map(Vec::as_slice) {
                Some(&[a, b, c, d]) => write!(f, "{}", std::net::Ipv4Addr::new(a, b, c, d))?,
                Some(b) if b.len() == 16 => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(b);
                    write!(f, "{}", std::net::Ipv6Addr::from(octets))?
                }
                _ => write!(f, "(family {})", self.family)?,
            }
            write!(f, "/{}", self.prefix_len)
        }
    }

    fn address_of(payload: &[u8]) -> Option<Address> {
        let fixed = payload.get(..IFADDRMSG)?;
        let mut a = Address {
            family: fixed[0],
            prefix_len: fixed[1],
            flags: u32::from(fixed[2]),
            scope: fixed[3],
            index: u32_at(fixed, 4)?,
            local: None,
            address: None,
            broadcast: None,
        };
        for (kind, data) in attributes(&payload[IFADDRMSG..]) {
            match kind {
                IFA_LOCAL => a.local = Some(data.to_vec()),
                IFA_ADDRESS => a.address = Some(data.to_vec()),
                IFA_BROADCAST => a.broadcast = Some(data.to_vec()),
                IFA_FLAGS => a.flags = u32_at(data, 0).unwrap_or(a.flags),
                _ => {}
            }
        }
        Some(a)
    }

    pub struct Socket {
        fd: OwnedFd,
        seq: Cell<u32>,
    }

    impl Socket {
        /// A NETLINK_ROUTE socket in the calling thread's network namespace.
        pub fn open() -> io::Result<Socket> {
            // SAFETY: socket(2) with constant arguments; the result is checked before use.
            let fd = unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    libc::NETLINK_ROUTE,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: fd is a new descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            for option in [libc::NETLINK_EXT_ACK, libc::NETLINK_CAP_ACK] {
                let on: libc::c_int = 1;
                // SAFETY: setsockopt reads an int that outlives the call. Best effort: without
                // them, errors come without the kernel's message.
                unsafe {
                    libc::setsockopt(
                        fd.as_raw_fd(),
                        libc::SOL_NETLINK,
                        option,
                        (&on as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
            }
            Ok(Socket {
                fd,
                seq: Cell::new(0),
            })
        }

        /// A socket in network namespace `ns`; the thread returns to `back` (its own) at once.
        pub fn open_in(ns: BorrowedFd<'_>, back: BorrowedFd<'_>) -> io::Result<Socket> {
            sys::setns(ns, libc::CLONE_NEWNET)?;
            let socket = Socket::open();
            sys::setns(back, libc::CLONE_NEWNET).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("return to the runtime's network namespace: {e}"),
                )
            })?;
            socket
        }

        /// Sends a request and collects the payloads of its answers, up to its ack (or, for a
        /// dump, its end).
        fn exchange(&self, request: Request) -> io::Result<Vec<Vec<u8>>> {
            let seq = self.seq.get().wrapping_add(1);
            self.seq.set(seq);
            let mut buf = request.buf;
            let len = buf.len() as u32;
            buf[0..4].copy_from_slice(&len.to_ne_bytes());
            buf[8..12].copy_from_slice(&seq.to_ne_bytes());
            // SAFETY: sends buf.len() initialised bytes; an unconnected netlink socket sends to the kernel.
            let sent =
                unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) };
            if sent < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut answers = Vec::new();
            let mut interrupted = false;
            let mut reply = vec![0u8; 64 * 1024];
            loop {
                // SAFETY: receives into reply, which has reply.len() writable bytes.
                let n = unsafe {
                    libc::recv(
                        self.fd.as_raw_fd(),
                        reply.as_mut_ptr().cast(),
                        reply.len(),
                        0,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                let mut rest = &reply[..n as usize];
                while rest.len() >= HEADER {
                    let (Some(len), Some(kind), Some(flags), Some(their_seq)) = (
                        u32_at(rest, 0),
                        u16_at(rest, 4),
                        u16_at(rest, 6),
                        u32_at(rest, 8),
                    ) else {
                        break;
                    };
                    let len = len as usize;
                    if len < HEADER || len > rest.len() {
                        break;
                    }
                    let payload = &rest[HEADER..len];
                    rest = &rest[align(len).min(rest.len())..];
                    if their_seq != seq {
                        continue;
                    }
                    interrupted |= flags & NLM_F_DUMP_INTR != 0;
                    match kind {
                        NLMSG_ERROR => {
                            let errno = u32_at(payload, 0).unwrap_or(0) as i32;
                            if errno == 0 {
                                return Ok(answers);
                            }
                            return Err(nl_error(-errno, ack_message(payload, flags)));
                        }
                        NLMSG_DONE => {
                            let errno = u32_at(payload, 0).unwrap_or(0) as i32;
                            if errno < 0 {
                                return Err(nl_error(-errno, None));
                            }
                            if interrupted {
                                return Err(io::Error::from_raw_os_error(libc::EINTR));
                            }
                            return Ok(answers);
                        }
                        _ => answers.push(payload.to_vec()),
                    }
                }
            }
        }

        /// A dump, repeated when the kernel says it changed under it (NLM_F_DUMP_INTR).
        fn dump(&self, make: impl Fn() -> Request) -> io::Result<Vec<Vec<u8>>> {
            let mut tries = 0;
            loop {
                match self.exchange(make()) {
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) && tries < 5 => tries += 1,
                    other => return other,
                }
            }
        }

        pub fn link_by_name(&self, name: &str) -> io::Result<Link> {
            let request = Request::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifinfomsg(0, 0, 0))
                .name(IFLA_IFNAME, name);
            let answers = self.exchange(request)?;
            answers
                .iter()
                .find_map(|a| link_of(a))
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
        }

        pub fn links(&self) -> io::Result<Vec<Link>> {
            let answers = self.dump(|| {
                Request::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifinfomsg(0, 0, 0))
            })?;
            Ok(answers.iter().filter_map(|a| link_of(a)).collect())
        }

        /// The addresses of link `index`.
        pub fn addresses(&self, index: i32) -> io::Result<Vec<Address>> {
            let answers = self.dump(|| {
                Request::new(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &[0u8; IFADDRMSG])
            })?;
            Ok(answers
                .iter()
                .filter_map(|a| address_of(a))
                .filter(|a| a.index == index as u32)
                .collect())
        }

        /// Moves link `index` to the network namespace `ns`, named `name` there.
        pub fn move_link(&self, index: i32, ns: BorrowedFd<'_>, name: &str) -> io::Result<()> {
            let fd = ns.as_raw_fd() as u32;
            let request = Request::new(
                RTM_NEWLINK,
                NLM_F_REQUEST | NLM_F_ACK,
                &ifinfomsg(index, 0, 0),
            )
            .attr(IFLA_NET_NS_FD, &fd.to_ne_bytes())
            .name(IFLA_IFNAME, name);
            self.exchange(request).map(drop)
        }

        pub fn set_up(&self, index: i32, up: bool) -> io::Result<()> {
            let iff_up = libc::IFF_UP as u32;
            let request = Request::new(
                RTM_NEWLINK,
                NLM_F_REQUEST | NLM_F_ACK,
                &ifinfomsg(index, if up { iff_up } else { 0 }, iff_up),
            );
            self.exchange(request).map(drop)
        }

        /// Adds `address` (as read elsewhere) to link `index`.
        pub fn add_address(&self, index: i32, address: &Address) -> io::Result<()> {
            let mut fixed = [0u8; IFADDRMSG];
            fixed[0] = address.family;
            fixed[1] = address.prefix_len;
            fixed[3] = address.scope;
            fixed[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
            let mut request = Request::new(
                RTM_NEWADDR,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                &fixed,
            );
            for (kind, value) in [
                (IFA_LOCAL, &address.local),
                (IFA_ADDRESS, &address.address),
                (IFA_BROADCAST, &address.broadcast),
            ] {
                if let Some(bytes) = value {
                    request = request.attr(kind, bytes);
                }
            }
            let flags = address.flags & IFA_USER_FLAGS;
            if flags != 0 {
                request = request.attr(IFA_FLAGS, &flags.to_ne_bytes());
            }
            self.exchange(request).map(drop)
        }
    }

    /// The kernel's message in an extended ack (NETLINK_EXT_ACK), if any.
    fn ack_message(payload: &[u8], flags: u16) -> Option<String> {
        if flags & NLM_F_ACK_TLVS == 0 {
            return None;
        }
        // The error, then the request's header (capped) or the whole request, then attributes.
        let request_len = if flags & NLM_F_CAPPED != 0 {
            HEADER
        } else {
            u32_at(payload, 4)? as usize
        };
        let tlvs = payload.get(4 + align(request_len)..)?;
        attributes(tlvs)
            .into_iter()
            .find(|(kind, _)| *kind == NLMSGERR_ATTR_MSG)
            .map(|(_, b)| c_string(b))
    }
}
