using Supervisor.Linux;
using Supervisor.Runtime.Cgroups;

namespace Supervisor.Runtime.Tests.Cgroups;

/// <summary>
/// Simulates the kernel side of cgroupfs over a plain directory tree: mkdir populates the control files
/// (copied from the parent, as the kernel's defaults are per hierarchy), rmdir drops them, v1 memory rejects
/// memory.limit above memsw.limit, the freezer files change state on writes. Every write is logged.
/// </summary>
internal sealed class FixtureIo : CgroupIo
{
    public List<(string Path, string Value)> Writes { get; } = [];

    /// <summary>Device programs attached, in order: the cgroup directory and the instructions.</summary>
    public List<(string Dir, ulong[] Program)> DevicePrograms { get; } = [];

    public override void AttachDeviceProgram(string dir, ulong[] instructions) => DevicePrograms.Add((dir, instructions));

    /// <summary>When set, freezes never complete (v1 reads FREEZING, v2 cgroup.events keeps frozen 0).</summary>
    public bool StuckFreeze { get; set; }

    /// <summary>File name → errno for writes the simulated kernel rejects.</summary>
    public Dictionary<string, Errno> Reject { get; } = new(StringComparer.Ordinal);

    public override void Write(string path, string value)
    {
        string name = Path.GetFileName(path);
        if (Reject.TryGetValue(name, out var errno))
            throw Fail(path, value, errno);
        if (!File.Exists(path))
            throw Fail(path, value, Errno.ENOENT);
        string dir = Path.GetDirectoryName(path)!;
        if (name == "memory.limit_in_bytes" && Parse(value) > Parse(ReadOptional(Path.Combine(dir, "memory.memsw.limit_in_bytes"))))
            throw Fail(path, value, Errno.EINVAL);
        if (name == "memory.memsw.limit_in_bytes" && Parse(value) < Parse(ReadOptional(Path.Combine(dir, "memory.limit_in_bytes"))))
            throw Fail(path, value, Errno.EINVAL);
        Writes.Add((path, value));
        if (name == "freezer.state" && value == "FROZEN" && StuckFreeze)
            value = "FREEZING";
        base.Write(path, value);
        if (name == "cgroup.freeze" && !(StuckFreeze && value == "1"))
            base.Write(Path.Combine(dir, "cgroup.events"), $"populated 0\nfrozen {value}\n");
    }

    private static CgroupException Fail(string path, string value, Errno errno) =>
        new($"cgroup {Path.GetFileName(path)}={value}: {SyscallException.Describe(errno)}", path, errno);

    private static ulong Parse(string? v) =>
        v is null ? ulong.MaxValue : v.Trim() == "-1" ? 9223372036854771712UL : ulong.Parse(v.Trim());

    public override bool CreateDirectory(string path)
    {
        if (Directory.Exists(path))
            return false;
        string parent = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(path);
        foreach (var file in Directory.GetFiles(parent))
        {
            string name = Path.GetFileName(file);
            string content = name switch
            {
                "cgroup.procs" or "tasks" or "cpuset.cpus" or "cpuset.mems" or "cgroup.subtree_control" => "",
                "freezer.state" => "THAWED\n",
                "cgroup.freeze" => "0\n",
                "cgroup.events" => "populated 0\nfrozen 0\n",
                _ => File.ReadAllText(file),
            };
            if (name == "cgroup.controllers")
                content = File.ReadAllText(Path.Combine(parent, "cgroup.subtree_control")).Replace("+", "");
            File.WriteAllText(Path.Combine(path, name), content);
        }
        return true;
    }

    public override Errno RemoveDirectory(string path)
    {
        if (!Directory.Exists(path))
            return Errno.ENOENT;
        if (Directory.GetDirectories(path).Length > 0)
            return Errno.EBUSY;
        var procs = Path.Combine(path, "cgroup.procs");
        if (File.Exists(procs) && File.ReadAllText(procs).Trim().Length > 0)
            return Errno.EBUSY;
        Directory.Delete(path, recursive: true);
        return Errno.None;
    }

    public override void Sleep(TimeSpan t) => Thread.Sleep(1);

    public List<string> WritesTo(string fileName) =>
        Writes.Where(w => Path.GetFileName(w.Path) == fileName).Select(w => w.Value).ToList();
}

/// <summary>A temp-dir cgroup tree with its mountinfo and /proc/self/cgroup texts.</summary>
internal sealed class CgroupFixture : IDisposable
{
    public const string Unlimited = "9223372036854771712";

    private CgroupFixture(string root) => Root = root;

    public string Root { get; }
    public FixtureIo Io { get; } = new();
    public string Mountinfo { get; private set; } = "";
    public string ProcCgroup { get; private set; } = "";
    public CgroupLayout Layout { get; private set; } = null!;

    public string Mount(string name) => Path.Combine(Root, name);

    public ICgroupManager Manager(string? cgroupsPath, string id = "c1") =>
        CgroupManager.Create(Layout, CgroupPaths.Resolve(Layout, cgroupsPath, id), Io);

    public string Read(string path) => File.ReadAllText(path).Trim();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string NewRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), "cgfix-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        return root;
    }

    private static readonly Dictionary<string, string> V1Files = new()
    {
        ["cgroup.procs"] = "",
        ["tasks"] = "",
        ["cgroup.event_control"] = "",
        ["cpu.shares"] = "1024",
        ["cpu.cfs_period_us"] = "100000",
        ["cpu.cfs_quota_us"] = "-1",
        ["cpu.cfs_burst_us"] = "0",
        ["cpu.rt_period_us"] = "1000000",
        ["cpu.rt_runtime_us"] = "0",
        ["cpu.idle"] = "0",
        ["cpu.stat"] = "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
        ["cpuacct.usage"] = "18542458",
        ["cpuacct.usage_percpu"] = "6103077 12439381 \n",
        ["cpuacct.usage_percpu_sys"] = "7917235 11830162\n",
        ["cpuacct.usage_percpu_user"] = "0 0\n",
        ["cpuacct.stat"] = "user 3\nsystem 1\n",
        ["cpuset.cpus"] = "0-1",
        ["cpuset.mems"] = "0",
        ["cpuset.cpu_exclusive"] = "0",
        ["cpuset.mem_hardwall"] = "0",
        ["cpuset.mem_exclusive"] = "0",
        ["cpuset.memory_migrate"] = "0",
        ["cpuset.memory_spread_page"] = "0",
        ["cpuset.memory_spread_slab"] = "0",
        ["cpuset.memory_pressure"] = "0",
        ["cpuset.sched_load_balance"] = "1",
        ["cpuset.sched_relax_domain_level"] = "-1",
        ["memory.limit_in_bytes"] = Unlimited,
        ["memory.usage_in_bytes"] = "823296",
        ["memory.max_usage_in_bytes"] = "2252800",
        ["memory.failcnt"] = "0",
        ["memory.soft_limit_in_bytes"] = Unlimited,
        ["memory.memsw.limit_in_bytes"] = Unlimited,
        ["memory.memsw.usage_in_bytes"] = "823296",
        ["memory.memsw.max_usage_in_bytes"] = "2252800",
        ["memory.memsw.failcnt"] = "0",
        ["memory.kmem.limit_in_bytes"] = Unlimited,
        ["memory.kmem.usage_in_bytes"] = "475136",
        ["memory.kmem.max_usage_in_bytes"] = "598016",
        ["memory.kmem.failcnt"] = "0",
        ["memory.kmem.tcp.limit_in_bytes"] = Unlimited,
        ["memory.kmem.tcp.usage_in_bytes"] = "0",
        ["memory.kmem.tcp.max_usage_in_bytes"] = "0",
        ["memory.kmem.tcp.failcnt"] = "0",
        ["memory.swappiness"] = "60",
        ["memory.use_hierarchy"] = "1",
        ["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        ["memory.stat"] = "cache 4096\nrss 53248\nhierarchical_memory_limit 9223372036854771712\ntotal_rss 53248\n",
        ["devices.allow"] = "",
        ["devices.deny"] = "",
        ["devices.list"] = "a *:* rwm\n",
        ["freezer.state"] = "THAWED\n",
        ["blkio.weight"] = "500",
        ["blkio.leaf_weight"] = "500",
        ["blkio.weight_device"] = "",
        ["blkio.leaf_weight_device"] = "",
        ["blkio.throttle.read_bps_device"] = "",
        ["blkio.throttle.write_bps_device"] = "",
        ["blkio.throttle.read_iops_device"] = "",
        ["blkio.throttle.write_iops_device"] = "",
        ["blkio.throttle.io_service_bytes"] = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n",
        ["blkio.throttle.io_serviced"] = "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
        ["pids.max"] = "max",
        ["pids.current"] = "1",
        ["hugetlb.2MB.limit_in_bytes"] = Unlimited,
        ["hugetlb.2MB.usage_in_bytes"] = "0",
        ["hugetlb.2MB.max_usage_in_bytes"] = "0",
        ["hugetlb.2MB.failcnt"] = "0",
        ["hugetlb.1GB.limit_in_bytes"] = Unlimited,
        ["hugetlb.1GB.usage_in_bytes"] = "0",
        ["hugetlb.1GB.max_usage_in_bytes"] = "0",
        ["hugetlb.1GB.failcnt"] = "0",
        ["net_cls.classid"] = "0",
        ["net_prio.ifpriomap"] = "lo 0\n",
    };

    private static readonly string[] V1Hierarchies =
        ["cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb", "net_cls,net_prio", "name=systemd"];

    private static string MountName(string options) => options.StartsWith("name=") ? options[5..] : options;

    private static string FilesFor(string options) => options switch
    {
        "cpu,cpuacct" => "cpu.,cpuacct.",
        "net_cls,net_prio" => "net_cls.,net_prio.",
        "name=systemd" => "-",
        _ => options + ".",
    };

    private void MakeV1(string options, string ownPath)
    {
        string mount = Mount(MountName(options));
        Directory.CreateDirectory(mount);
        var prefixes = FilesFor(options).Split(',');
        foreach (var (name, content) in V1Files)
            if (name.StartsWith("cgroup.") || name == "tasks" || prefixes.Any(p => name.StartsWith(p)))
                File.WriteAllText(Path.Combine(mount, name), content);
        CreateOwn(mount, ownPath);
    }

    private void CreateOwn(string mount, string ownPath)
    {
        var dir = mount;
        foreach (var seg in ownPath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            dir = Path.Combine(dir, seg);
            Io.CreateDirectory(dir);
            // Like the kernel, the own cgroup's cpuset is populated (we are a member).
            foreach (var f in new[] { "cpuset.cpus", "cpuset.mems" })
                if (File.Exists(Path.Combine(dir, f)))
                    File.WriteAllText(Path.Combine(dir, f), File.ReadAllText(Path.Combine(mount, f)));
        }
    }

    private static readonly Dictionary<string, string> V2Files = new()
    {
        ["cgroup.procs"] = "",
        ["cgroup.controllers"] = "",
        ["cgroup.subtree_control"] = "",
        ["cgroup.freeze"] = "0\n",
        ["cgroup.events"] = "populated 0\nfrozen 0\n",
        ["cpu.stat"] = "usage_usec 2500\nuser_usec 1500\nsystem_usec 1000\nnr_periods 7\nnr_throttled 3\nthrottled_usec 40\n",
        ["cpu.max"] = "max 100000",
        ["cpu.max.burst"] = "0",
        ["cpu.weight"] = "100",
        ["cpu.idle"] = "0",
        ["cpuset.cpus"] = "",
        ["cpuset.mems"] = "",
        ["cpuset.cpus.effective"] = "0-1",
        ["cpuset.mems.effective"] = "0",
        ["memory.max"] = "max",
        ["memory.low"] = "0",
        ["memory.high"] = "max",
        ["memory.swap.max"] = "max",
        ["memory.current"] = "1048576",
        ["memory.peak"] = "2097152",
        ["memory.swap.current"] = "4096",
        ["memory.events"] = "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n",
        ["memory.stat"] = "anon 8192\nfile 16384\nkernel 4096\n",
        ["pids.max"] = "max",
        ["pids.current"] = "3",
        ["io.max"] = "",
        ["io.weight"] = "default 100",
        ["io.stat"] = "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
        ["hugetlb.2MB.max"] = "max",
        ["hugetlb.2MB.current"] = "2097152",
        ["hugetlb.2MB.events"] = "max 4\n",
        ["hugetlb.2MB.rsvd.max"] = "max",
    };

    private void MakeV2(string mountName, string controllers, string ownPath)
    {
        string mount = Mount(mountName);
        Directory.CreateDirectory(mount);
        var ctrls = controllers.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var (name, content) in V2Files)
        {
            string prefix = name.Split('.')[0];
            if (prefix == "cgroup" || ctrls.Contains(prefix) || (prefix == "cpu" && name == "cpu.stat"))
                File.WriteAllText(Path.Combine(mount, name), content);
        }
        File.WriteAllText(Path.Combine(mount, "cgroup.controllers"), controllers + "\n");
        // The root delegates everything, so the own cgroup has every controller's files.
        File.WriteAllText(Path.Combine(mount, "cgroup.subtree_control"), controllers + "\n");
        CreateOwn(mount, ownPath);
    }

    private static string MountinfoLine(int id, string mountpoint, string fstype, string super) =>
        $"{id} 31 0:{id} / {mountpoint.Replace(" ", "\\040")} rw,relatime - {fstype} {fstype} rw,{super}\n";

    /// <summary>Every controller on v1 (cpu,cpuacct and net_cls,net_prio co-mounted), own memory cgroup nested.</summary>
    public static CgroupFixture V1(string memoryOwnPath = "/process_api/abc")
    {
        var f = new CgroupFixture(NewRoot());
        var mi = "23 1 0:21 / / rw - ext4 /dev/sda1 rw\n";
        var pc = "";
        int id = 40, hid = 10;
        foreach (var h in V1Hierarchies)
        {
            string own = h == "memory" ? memoryOwnPath : "/";
            f.MakeV1(h, own);
            mi += MountinfoLine(id++, f.Mount(MountName(h)), "cgroup", h);
            pc = $"{hid--}:{h}:{own}\n" + pc;
        }
        f.Mountinfo = mi;
        f.ProcCgroup = pc;
        f.Layout = CgroupLayout.Parse(mi, pc);
        return f;
    }

    /// <summary>Pure cgroup v2, own cgroup /user.slice/me.</summary>
    public static CgroupFixture V2(string ownPath = "/user.slice")
    {
        var f = new CgroupFixture(NewRoot());
        const string ctrls = "cpuset cpu io memory hugetlb pids";
        f.MakeV2("unified", ctrls, ownPath);
        f.Mountinfo = "23 1 0:21 / / rw - ext4 /dev/sda1 rw\n" + MountinfoLine(50, f.Mount("unified"), "cgroup2", "nsdelegate");
        f.ProcCgroup = $"0::{ownPath}\n";
        f.Layout = CgroupLayout.Parse(f.Mountinfo, f.ProcCgroup);
        return f;
    }

    /// <summary>This machine's shape: every controller on v1 except hugetlb, which only the cgroup2 mount has.</summary>
    public static CgroupFixture Hybrid()
    {
        var f = new CgroupFixture(NewRoot());
        var mi = "23 1 0:21 / / rw - ext4 /dev/sda1 rw\n";
        var pc = "";
        int id = 40, hid = 10;
        foreach (var h in V1Hierarchies.Where(h => h != "hugetlb"))
        {
            f.MakeV1(h, "/");
            mi += MountinfoLine(id++, f.Mount(MountName(h)), "cgroup", h);
            pc = $"{hid--}:{h}:/\n" + pc;
        }
        f.MakeV2("unified", "hugetlb", "/");
        mi += MountinfoLine(id, f.Mount("unified"), "cgroup2", "nsdelegate");
        pc += "0::/\n";
        f.Mountinfo = mi;
        f.ProcCgroup = pc;
        f.Layout = CgroupLayout.Parse(mi, pc);
        return f;
    }
}
