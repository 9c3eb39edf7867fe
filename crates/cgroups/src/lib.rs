//! Control groups for berth containers, on cgroup v1, hybrid and v2 hosts behind one interface:
//! make a container's cgroup, place its init in it, apply `linux.resources`, freeze and thaw it,
//! read its usage, and remove exactly the directories we made.

mod devices_bpf;
mod files;
mod resources;
mod stats;
mod v1;
mod v2;

pub use resources::{DeviceRule, Limit, Resources, ResourcesError};
pub use stats::Stats;

use std::io;
use std::path::{Component, Path, PathBuf};

/// The parent below which relative and default cgroup paths are placed.
pub const PARENT: &str = "berth";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("linux.cgroupsPath: {0}")]
    Path(String),
    #[error(transparent)]
    Resources(#[from] ResourcesError),
    #[error("cgroup {path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    /// A resource knob whose control file this kernel does not have.
    #[error("linux.resources.{field}: not supported by this kernel: {}", path.display())]
    NotSupported { field: String, path: PathBuf },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(path: &Path, what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    let what = what.into();
    move |source| Error::Io { path, what, source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controllers plus a cgroup2 mount (with or without controllers of its own).
    Hybrid,
    /// One cgroup2 hierarchy at /sys/fs/cgroup.
    Unified,
}

#[derive(Debug, Clone)]
pub struct V1Hierarchy {
    pub mount_point: PathBuf,
    /// Controllers and name= options of the hierarchy ("cpu", "cpuacct", "name=systemd").
    pub controllers: Vec<String>,
}

impl V1Hierarchy {
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The cgroup filesystems of this host, read from /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct Hierarchies {
    pub layout: Layout,
    pub v1: Vec<V1Hierarchy>,
    pub unified: Option<PathBuf>,
}

impl Hierarchies {
    pub fn detect() -> Result<Self> {
        let info = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err(Path::new("/proc/self/mountinfo"), "read"))?;
        Ok(Self::parse(&info))
    }

    /// One mount per hierarchy: the first that shows the whole hierarchy (root "/"), else the first.
    /// Later ones are repeats or binds of a part of it, such as a container's /sys/fs/cgroup, which
    /// stays in the runtime's namespace when the container has no mount namespace of its own.
    pub fn parse(mountinfo: &str) -> Self {
        let mut v1: Vec<(V1Hierarchy, bool)> = Vec::new();
        let mut unified: Option<(PathBuf, bool)> = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut right = right.split(' ');
            let fstype = right.next().unwrap_or("");
            let super_options = right.nth(1).unwrap_or("");
            let mut fields = left.split(' ').skip(3);
            let whole = fields.next() == Some("/");
            let Some(mount_point) = fields.next() else {
                continue;
            };
            // mountinfo escapes space, tab, newline and backslash as octal.
            let mount_point = PathBuf::from(
                mount_point
                    .replace("\\040", " ")
                    .replace("\\011", "\t")
                    .replace("\\012", "\n")
                    .replace("\\134", "\\"),
            );
            match fstype {
                "cgroup2" if unified.as_ref().is_none_or(|(_, w)| whole && !w) => {
                    unified = Some((mount_point, whole));
                }
                "cgroup" => {
                    let controllers = super_options
                        .split(',')
                        .filter(|o| {
                            !matches!(
                                *o,
                                "rw" | "ro"
                                    | "xattr"
                                    | "noprefix"
                                    | "clone_children"
                                    | "cpuset_v2_mode"
                            )
                        })
                        .filter(|o| !o.starts_with("release_agent="))
                        .map(str::to_string)
                        .collect::<Vec<_>>();
                    let hierarchy = V1Hierarchy {
                        mount_point,
                        controllers,
                    };
                    match v1
                        .iter_mut()
                        .find(|(h, _)| h.controllers == hierarchy.controllers)
                    {
                        None => v1.push((hierarchy, whole)),
                        Some(seen) if whole && !seen.1 => *seen = (hierarchy, whole),
                        Some(_) => {}
                    }
                }
                _ => {}
            }
        }
        let v1: Vec<V1Hierarchy> = v1.into_iter().map(|(h, _)| h).collect();
        let unified = unified.map(|(mount_point, _)| mount_point);
        let layout = match (&unified, v1.is_empty()) {
            (Some(_), true) => Layout::Unified,
            (Some(_), false) => Layout::Hybrid,
            _ => Layout::Legacy,
        };
        Hierarchies {
            layout,
            v1,
            unified,
        }
    }

    /// The v1 hierarchy that holds `controller`, if mounted.
    pub fn v1_with(&self, controller: &str) -> Option<&V1Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }
}

/// The cgroup path (relative to each hierarchy's root) for `linux.cgroupsPath`: absolute paths as
/// given, relative ones below `berth/`, none as `berth/<id>`. Refuses `..` and systemd's `slice:prefix:name`.
pub fn resolve_path(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf> {
    let Some(path) = cgroups_path.filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(Path::new(PARENT).join(id));
    };
    let text = path.to_string_lossy();
    if !path.is_absolute() && text.split(':').count() == 3 {
        return Err(Error::Path(format!(
            "{text:?} is a systemd slice path; the systemd cgroup driver is not supported"
        )));
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::Path(format!("{text:?} must not contain \"..\"")));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(Error::Path(format!("{text:?} names the root cgroup")));
    }
    Ok(if path.is_absolute() {
        out
    } else {
        Path::new(PARENT).join(out)
    })
}

/// A container's cgroup in every hierarchy of the host.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub hierarchies: Hierarchies,
    /// Path below each hierarchy's root.
    pub path: PathBuf,
    /// Directories this cgroup's creation made (outermost first); only these are ever removed.
    pub created: Vec<PathBuf>,
}

impl Cgroup {
    /// The directories of this cgroup, one per hierarchy (v1 first, then the unified one).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .hierarchies
            .v1
            .iter()
            .map(|h| h.mount_point.join(&self.path))
            .collect();
        dirs.extend(self.hierarchies.unified.iter().map(|u| u.join(&self.path)));
        dirs
    }

    /// Opens an existing cgroup (for update, pause, stats, delete) with the directories recorded at creation.
    pub fn open(hierarchies: Hierarchies, path: PathBuf, created: Vec<PathBuf>) -> Self {
        Cgroup {
            hierarchies,
            path,
            created,
        }
    }

    /// Makes the cgroup's directories where missing (refusing a cgroup that already holds processes).
    pub fn create(hierarchies: Hierarchies, path: PathBuf) -> Result<Self> {
        let mut cgroup = Cgroup {
            hierarchies,
            path,
            created: Vec::new(),
        };
        if let Err(e) = cgroup.make_dirs() {
            cgroup.destroy_with_parents();
            return Err(e);
        }
        Ok(cgroup)
    }

    fn make_dirs(&mut self) -> Result<()> {
        for hierarchy in self.hierarchies.v1.clone() {
            let cpuset = hierarchy.has("cpuset");
            self.make_below(&hierarchy.mount_point, cpuset)?;
        }
        if let Some(unified) = self.hierarchies.unified.clone() {
            self.make_below(&unified, false)?;
            if self.hierarchies.layout == Layout::Unified {
                v2::enable_controllers(&unified, &self.path)?;
            }
        }
        for dir in self
            .dirs()
            .into_iter()
            .filter(|d| !self.created.contains(d))
        {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            if !procs.trim().is_empty() {
                return Err(Error::Path(format!(
                    "{} already holds processes",
                    dir.display()
                )));
            }
        }
        Ok(())
    }

    fn make_below(&mut self, root: &Path, cpuset: bool) -> Result<()> {
        // Another container's teardown may remove a shared parent between our mkdirs: start again then.
        for _ in 0..5 {
            match self.make_chain(root, cpuset) {
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    continue
                }
                other => return other,
            }
        }
        self.make_chain(root, cpuset)
    }

    fn make_chain(&mut self, root: &Path, cpuset: bool) -> Result<()> {
        let mut dir = root.to_path_buf();
        for part in self.path.components() {
            let parent = dir.clone();
            dir.push(part);
            match std::fs::create_dir(&dir) {
                Ok(()) => self.created.push(dir.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&dir, "create")(e)),
            }
            if cpuset {
                // A new v1 cpuset is empty and takes no tasks until it has CPUs and memory nodes. Also
                // for a level that exists: a concurrent create may have made it and not filled it yet.
                v1::inherit_cpuset(&parent, &dir)?;
            }
        }
        Ok(())
    }

    /// Puts a process (the container's init, before it runs anything) into the cgroup everywhere.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            let file = dir.join("cgroup.procs");
            std::fs::write(&file, pid.to_string())
                .map_err(io_err(&dir, format!("add process {pid}")))?;
        }
        Ok(())
    }

    /// The cgroup's directory on a pure v2 host (for clone3's CLONE_INTO_CGROUP).
    pub fn unified_leaf(&self) -> Option<PathBuf> {
        (self.hierarchies.layout == Layout::Unified)
            .then(|| self.unified_dir().ok())
            .flatten()
    }

    pub fn apply(&self, resources: &Resources) -> Result<()> {
        match self.hierarchies.layout {
            Layout::Unified => v2::apply(&self.unified_dir()?, resources),
            _ => v1::apply(self, resources),
        }
    }

    fn unified_dir(&self) -> Result<PathBuf> {
        self.hierarchies
            .unified
            .as_ref()
            .map(|u| u.join(&self.path))
            .ok_or_else(|| Error::Unsupported("no cgroup2 hierarchy".into()))
    }

    /// The directory of a v1 controller for this cgroup.
    pub fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchies
            .v1_with(controller)
            .map(|h| h.mount_point.join(&self.path))
    }

    /// The processes in the cgroup (host pids).
    pub fn procs(&self) -> Vec<i32> {
        let dir = match self.hierarchies.layout {
            Layout::Unified => self.unified_dir().ok(),
            _ => self
                .v1_dir("pids")
                .or_else(|| self.v1_dir("memory"))
                .or_else(|| self.dirs().into_iter().next()),
        };
        let text = dir
            .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .unwrap_or_default();
        let mut pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.sort_unstable();
        pids
    }

    /// SIGKILLs every process of the cgroup at once through cgroup.kill (v2, Linux 5.14+), so no
    /// fork can slip past; false where the kernel has no cgroup.kill.
    pub fn kill_all(&self) -> Result<bool> {
        if self.hierarchies.layout != Layout::Unified {
            return Ok(false);
        }
        let dir = self.unified_dir()?;
        if !dir.join("cgroup.kill").exists() {
            return Ok(false);
        }
        std::fs::write(dir.join("cgroup.kill"), "1").map_err(io_err(&dir, "write cgroup.kill"))?;
        Ok(true)
    }

    pub fn freeze(&self, frozen: bool) -> Result<()> {
        match self.hierarchies.layout {
            Layout::Unified => v2::freeze(&self.unified_dir()?, frozen),
            _ => {
                let dir = self.v1_dir("freezer").ok_or_else(|| {
                    Error::Unsupported("the freezer controller is not mounted".into())
                })?;
                v1::freeze(&dir, frozen)
            }
        }
    }

    pub fn is_frozen(&self) -> bool {
        match self.hierarchies.layout {
            Layout::Unified => self.unified_dir().is_ok_and(|d| v2::is_frozen(&d)),
            _ => self.v1_dir("freezer").is_some_and(|d| v1::is_frozen(&d)),
        }
    }

    /// Processes of this cgroup the kernel's OOM killer ended (the memory controller's count).
    pub fn oom_kills(&self) -> u64 {
        match self.hierarchies.layout {
            Layout::Unified => self.unified_dir().map_or(0, |d| v2::oom_kills(&d)),
            _ => self.v1_dir("memory").map_or(0, |d| v1::oom_kills(&d)),
        }
    }

    pub fn stats(&self) -> Stats {
        match self.hierarchies.layout {
            Layout::Unified => self
                .unified_dir()
                .map(|d| v2::stats(&d))
                .unwrap_or_default(),
            _ => v1::stats(self),
        }
    }

    /// Removes the container's own directories (those this cgroup's creation made). Parents it made
    /// stay, as runc leaves them, for the next container below them. Processes still inside are
    /// killed (the caller has already asked them to go).
    pub fn destroy(&self) {
        self.remove(false);
    }

    /// Removes every directory this cgroup's creation made, parents included: for a create that failed.
    pub fn destroy_with_parents(&self) {
        self.remove(true);
    }

    fn remove(&self, with_parents: bool) {
        let own: Vec<PathBuf> = self.dirs();
        let targets: Vec<&PathBuf> = self
            .created
            .iter()
            .filter(|d| with_parents || own.contains(d))
            .collect();
        for _ in 0..250 {
            let mut busy = false;
            for dir in targets.iter().rev() {
                match std::fs::remove_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    // A parent we made may now hold other containers' cgroups: theirs to remove.
                    Err(_) if !own.contains(dir) => {}
                    Err(_) => busy = true,
                }
            }
            if !busy {
                return;
            }
            for pid in self.procs() {
                // SAFETY: kill(2) with a pid read from our own cgroup and a constant signal.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(4));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(resolve_path(None, "c1").unwrap(), Path::new("berth/c1"));
        assert_eq!(
            resolve_path(Some(Path::new("/a/b")), "c1").unwrap(),
            Path::new("a/b")
        );
        assert_eq!(
            resolve_path(Some(Path::new("x/y")), "c1").unwrap(),
            Path::new("berth/x/y")
        );
        assert!(resolve_path(Some(Path::new("/a/../b")), "c1").is_err());
        assert!(resolve_path(Some(Path::new("system.slice:berth:c1")), "c1").is_err());
        assert!(resolve_path(Some(Path::new("/")), "c1").is_err());
    }

    #[test]
    fn layouts() {
        let hybrid = "30 25 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::parse(hybrid);
        assert_eq!(h.layout, Layout::Hybrid);
        assert_eq!(h.v1[0].controllers, vec!["cpu"]);
        let unified = "31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Hierarchies::parse(unified).layout, Layout::Unified);
    }

    #[test]
    fn one_mount_per_hierarchy() {
        // A container without a mount namespace leaves its cgroupfs binds in ours.
        let info = "\
30 25 0:26 /docker/x /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
31 25 0:26 / /sys/fs/cgroup/cpu2 rw - cgroup cgroup rw,cpu
32 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
40 39 0:26 /b/c1 /run/b/rootfs/sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu
41 39 0:28 / /run/b/rootfs/sys/fs/cgroup/pids ro - cgroup cgroup rw,pids
42 39 0:27 / /run/b/rootfs/sys/fs/cgroup/unified ro - cgroup2 cgroup2 rw
";
        let h = Hierarchies::parse(info);
        let points: Vec<&Path> = h.v1.iter().map(|h| h.mount_point.as_path()).collect();
        assert_eq!(
            points,
            [
                Path::new("/sys/fs/cgroup/cpu2"),
                Path::new("/run/b/rootfs/sys/fs/cgroup/pids")
            ]
        );
        assert_eq!(
            h.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
    }
}
