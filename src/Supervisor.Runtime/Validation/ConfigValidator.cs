using System.Globalization;
using Supervisor.Runtime.Capabilities;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Paths;
using Supervisor.Runtime.Rlimits;

namespace Supervisor.Runtime.Validation;

/// <summary>
/// Checks a <see cref="ContainerConfig"/> before anything is created, so that a bad config fails with no
/// side effect (security-anchors F8). Each problem is one line that starts with the field it is about, in
/// the runtime-spec's naming (e.g. <c>linux.sysctl["vm.swappiness"]</c>).
/// </summary>
public static class ConfigValidator
{
    public const int MaxIdLength = 1024;

    /// <summary>Every problem found; empty when the config is usable.</summary>
    public static IReadOnlyList<string> Validate(ContainerConfig c)
    {
        var p = new List<string>();
        CheckRootfs(c, p);
        CheckNamespaces(c, p);
        CheckHostname(c, p);
        CheckSysctl(c, p);
        CheckPaths(c, p);
        CheckIdMaps(c, p);
        CheckMounts(c, p);
        CheckDevices(c, p);
        CheckResources(c.Cgroups.Resources, p);
        CheckProcess(c.Process, "process", p);
        CheckHooks(c.Hooks, p);
        CheckSeccomp(c.Seccomp, p);
        if (c.ParentDeathSignal is < 0 or > 64)
            p.Add($"parentDeathSignal: {c.ParentDeathSignal} is not a signal number (0..64)");
        return p.Select(ConfigException.OneLine).ToList();
    }

    /// <summary>Throws <see cref="ConfigException"/> (first problem, plus how many more) unless the config is valid.</summary>
    public static void ValidateOrThrow(ContainerConfig c)
    {
        var problems = Validate(c);
        if (problems.Count == 0) return;
        var msg = problems.Count == 1 ? problems[0] : $"{problems[0]} (and {problems.Count - 1} more problem{(problems.Count > 2 ? "s" : "")})";
        throw new ConfigException(msg, problems);
    }

    /// <summary>
    /// Container ids become directory names under the state root, so they are limited to ASCII letters,
    /// digits, '_', '.' and '-' (no '/', no NUL, not "." or ".."), at most 1024 characters.
    /// </summary>
    public static void ValidateId(string id)
    {
        if (string.IsNullOrEmpty(id)) throw new InvalidIdException("invalid container id: empty");
        if (id.Length > MaxIdLength) throw new InvalidIdException($"invalid container id: longer than {MaxIdLength} characters");
        if (id is "." or "..") throw new InvalidIdException($"invalid container id \"{id}\"");
        foreach (var ch in id)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or '-'))
                throw new InvalidIdException(
                    $"invalid container id \"{Printable(id)}\": only letters, digits, '_', '.' and '-' are allowed");
        }
    }

    /// <summary>Processes started with exec are checked with the same rules as the init.</summary>
    public static IReadOnlyList<string> ValidateProcess(ProcessConfig process, string field = "process")
    {
        var p = new List<string>();
        CheckProcess(process, field, p);
        return p.Select(ConfigException.OneLine).ToList();
    }

    private static string Printable(string s) =>
        s.Replace("\0", "\\0", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static bool HasNul(string? s) => s is not null && s.Contains('\0');

    private static bool HasDotDot(string path) => path.Split('/').Contains("..");

    private static void CheckRootfs(ContainerConfig c, List<string> p)
    {
        var r = c.Rootfs;
        if (string.IsNullOrEmpty(r)) { p.Add("root.path: required"); return; }
        if (HasNul(r)) { p.Add("root.path: contains a NUL byte"); return; }
        if (!r.StartsWith('/')) { p.Add($"root.path: \"{r}\" is not an absolute path"); return; }
        if (!Directory.Exists(r))
        {
            p.Add(File.Exists(r) ? $"root.path: \"{r}\" is not a directory" : $"root.path: \"{r}\" does not exist");
            return;
        }
        string resolved;
        try
        {
            resolved = InRootResolver.Resolve("/", r);
        }
        catch (IOException e)
        {
            p.Add($"root.path: \"{r}\": {e.Message}");
            return;
        }
        // The rootfs must be given as its real path: the mounts are prepared by path, and a symlink in it
        // could be retargeted between validation and use.
        if (resolved != r)
            p.Add($"root.path: \"{r}\" is not a clean absolute path without symlinks (it resolves to \"{resolved}\")");
    }

    private static void CheckNamespaces(ContainerConfig c, List<string> p)
    {
        var seen = new HashSet<NamespaceType>();
        for (var i = 0; i < c.Namespaces.Count; i++)
        {
            var ns = c.Namespaces[i];
            if (!seen.Add(ns.Type))
                p.Add($"linux.namespaces[{i}]: duplicate namespace type \"{ns.Type.OciName()}\"");
            if (ns.Path is { Length: > 0 } path)
            {
                if (HasNul(path)) p.Add($"linux.namespaces[{i}].path: contains a NUL byte");
                else if (!path.StartsWith('/')) p.Add($"linux.namespaces[{i}].path: \"{path}\" is not an absolute path");
                else if (!File.Exists(path) && !Directory.Exists(path))
                    p.Add($"linux.namespaces[{i}].path: \"{path}\" does not exist");
            }
        }
        // pivot_root (and the MS_MOVE fallback) only works, and only stays private, in a mount namespace
        // of the container's own.
        if (!c.CreatesNamespace(NamespaceType.Mount))
            p.Add("linux.namespaces: a new mount namespace is required (the root filesystem is switched inside it)");
    }

    private static void CheckHostname(ContainerConfig c, List<string> p)
    {
        if (!string.IsNullOrEmpty(c.Hostname))
        {
            if (!c.CreatesNamespace(NamespaceType.Uts))
                p.Add("hostname: cannot set the hostname without a new UTS namespace");
            if (c.Hostname.Length > 64 || HasNul(c.Hostname))
                p.Add("hostname: must be at most 64 characters, without NUL");
        }
        if (!string.IsNullOrEmpty(c.Domainname))
        {
            if (!c.CreatesNamespace(NamespaceType.Uts))
                p.Add("domainname: cannot set the domain name without a new UTS namespace");
            if (c.Domainname.Length > 64 || HasNul(c.Domainname))
                p.Add("domainname: must be at most 64 characters, without NUL");
        }
    }

    // IPC sysctls that the kernel keeps per IPC namespace (ipc/ipc_sysctl.c, ipc/mq_sysctl.c).
    private static readonly HashSet<string> IpcSysctls = new(StringComparer.Ordinal)
    {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
        "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.msg_next_id", "kernel.sem_next_id", "kernel.shm_next_id",
    };

    private static void CheckSysctl(ContainerConfig c, List<string> p)
    {
        foreach (var (key, value) in c.Sysctl)
        {
            var field = $"linux.sysctl[\"{Printable(key)}\"]";
            // The key becomes a path under /proc/sys (dots to slashes), so only plain names are allowed.
            if (key.Length == 0 || key.Split('.').Any(part => part.Length == 0)
                || !key.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-'))
            {
                p.Add($"{field}: not a valid sysctl name");
                continue;
            }
            if (HasNul(value)) p.Add($"{field}: value contains a NUL byte");
            NamespaceType? needs =
                key.StartsWith("net.", StringComparison.Ordinal) ? NamespaceType.Network
                : IpcSysctls.Contains(key) || key.StartsWith("fs.mqueue.", StringComparison.Ordinal) ? NamespaceType.Ipc
                : key is "kernel.hostname" or "kernel.domainname" ? NamespaceType.Uts
                : null;
            if (needs is null)
                p.Add($"{field}: not namespaced; setting it would change the whole host");
            else if (!c.HasNamespace(needs.Value))
                p.Add($"{field}: needs a {needs.Value.OciName()} namespace, which the container does not have");
        }
    }

    private static void CheckPaths(ContainerConfig c, List<string> p)
    {
        var needsMountNs = c.MaskedPaths.Count > 0 || c.ReadonlyPaths.Count > 0;
        if (needsMountNs && !c.CreatesNamespace(NamespaceType.Mount))
            p.Add($"linux.{(c.MaskedPaths.Count > 0 ? "maskedPaths" : "readonlyPaths")}: cannot restrict paths without a new mount namespace");
        CheckPathList(c.MaskedPaths, "linux.maskedPaths", p);
        CheckPathList(c.ReadonlyPaths, "linux.readonlyPaths", p);
    }

    private static void CheckPathList(IReadOnlyList<string> paths, string field, List<string> p)
    {
        for (var i = 0; i < paths.Count; i++)
        {
            if (HasNul(paths[i])) p.Add($"{field}[{i}]: contains a NUL byte");
            else if (!paths[i].StartsWith('/')) p.Add($"{field}[{i}]: \"{paths[i]}\" is not an absolute path");
        }
    }

    private static void CheckIdMaps(ContainerConfig c, List<string> p)
    {
        var hasMaps = c.UidMappings.Count > 0 || c.GidMappings.Count > 0;
        var userNs = c.GetNamespace(NamespaceType.User);
        if (userNs is null)
        {
            if (hasMaps)
                p.Add($"linux.{(c.UidMappings.Count > 0 ? "uidMappings" : "gidMappings")}: id mappings need a user namespace, which the container does not have");
            return;
        }
        if (userNs.Path is not null)
        {
            if (hasMaps)
                p.Add($"linux.{(c.UidMappings.Count > 0 ? "uidMappings" : "gidMappings")}: cannot be set when joining an existing user namespace");
            return;
        }
        if (c.UidMappings.Count == 0) p.Add("linux.uidMappings: a new user namespace needs a uid mapping");
        if (c.GidMappings.Count == 0) p.Add("linux.gidMappings: a new user namespace needs a gid mapping");
        CheckMapList(c.UidMappings, "linux.uidMappings", p);
        CheckMapList(c.GidMappings, "linux.gidMappings", p);
    }

    private static void CheckMapList(IReadOnlyList<IdMap> maps, string field, List<string> p)
    {
        for (var i = 0; i < maps.Count; i++)
        {
            var m = maps[i];
            if (m.Size == 0) { p.Add($"{field}[{i}].size: must be at least 1"); continue; }
            if ((ulong)m.ContainerId + m.Size > 1UL << 32 || (ulong)m.HostId + m.Size > 1UL << 32)
            {
                p.Add($"{field}[{i}]: the range goes past 4294967295");
                continue;
            }
            for (var j = 0; j < i; j++)
            {
                var o = maps[j];
                if (o.Size == 0) continue;
                // The kernel rejects a map whose ranges overlap on either side (an id would map twice).
                if (Overlaps(m.ContainerId, m.Size, o.ContainerId, o.Size))
                    p.Add($"{field}[{i}]: container ids {m.ContainerId}..{(ulong)m.ContainerId + m.Size - 1} overlap {field}[{j}]");
                else if (Overlaps(m.HostId, m.Size, o.HostId, o.Size))
                    p.Add($"{field}[{i}]: host ids {m.HostId}..{(ulong)m.HostId + m.Size - 1} overlap {field}[{j}]");
            }
        }
    }

    private static bool Overlaps(uint a, uint aLen, uint b, uint bLen) =>
        (ulong)a < (ulong)b + bLen && (ulong)b < (ulong)a + aLen;

    private static void CheckMounts(ContainerConfig c, List<string> p)
    {
        for (var i = 0; i < c.Mounts.Count; i++)
        {
            var m = c.Mounts[i];
            var field = $"mounts[{i}]";
            if (HasNul(m.Destination) || HasNul(m.Source) || HasNul(m.Type) || HasNul(m.Data))
            {
                p.Add($"{field}: a mount field contains a NUL byte");
                continue;
            }
            if (!m.Destination.StartsWith('/'))
                p.Add($"{field}.destination: \"{m.Destination}\" is not an absolute path");
            else if (HasDotDot(m.Destination))
                p.Add($"{field}.destination: \"{m.Destination}\" contains \"..\"");
            if (m.IsBind)
            {
                if (m.Source.Length == 0) p.Add($"{field}.source: a bind mount needs a source");
                else if (!m.Source.StartsWith('/')) p.Add($"{field}.source: \"{m.Source}\" is not an absolute path");
            }
            else if (m.Type.Length == 0)
                p.Add($"{field}.type: required for a mount that is not a bind mount");
        }
    }

    private static void CheckDevices(ContainerConfig c, List<string> p)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < c.Devices.Count; i++)
        {
            var d = c.Devices[i];
            var field = $"linux.devices[{i}]";
            if (HasNul(d.Path)) { p.Add($"{field}.path: contains a NUL byte"); continue; }
            if (!d.Path.StartsWith("/dev/", StringComparison.Ordinal) || HasDotDot(d.Path))
                p.Add($"{field}.path: \"{d.Path}\" must be an absolute path under /dev without \"..\"");
            if (!seen.Add(d.Path)) p.Add($"{field}.path: \"{d.Path}\" is listed twice");
            if (d.Type is not ('c' or 'b' or 'u' or 'p')) p.Add($"{field}.type: must be c, b, u or p");
            if (d.Major < 0 || d.Minor < 0 || d.Major > 0xFFF || d.Minor > 0xFFFFF)
                p.Add($"{field}: major {d.Major} / minor {d.Minor} out of range");
            if (d.FileMode > 0xFFF) p.Add($"{field}.fileMode: only permission bits (at most 07777) are allowed");
        }
    }

    private static void CheckResources(Resources r, List<string> p)
    {
        const string f = "linux.resources";
        for (var i = 0; i < r.Devices.Count; i++)
        {
            var d = r.Devices[i];
            if (d.Type is not ('a' or 'b' or 'c')) p.Add($"{f}.devices[{i}].type: must be a, b or c");
            if (d.Access.Length == 0 || d.Access.Any(ch => ch is not ('r' or 'w' or 'm')) || d.Access.Distinct().Count() != d.Access.Length)
                p.Add($"{f}.devices[{i}].access: \"{d.Access}\" must be a combination of r, w and m");
            if (d.Major < 0 || d.Minor < 0) p.Add($"{f}.devices[{i}]: negative major/minor (leave it out for a wildcard)");
        }
        if (r.Memory is { } m)
        {
            Limit(m.Limit, $"{f}.memory.limit", p);
            Limit(m.Reservation, $"{f}.memory.reservation", p);
            Limit(m.Swap, $"{f}.memory.swap", p);
            Limit(m.Kernel, $"{f}.memory.kernel", p);
            Limit(m.KernelTcp, $"{f}.memory.kernelTCP", p);
            // memory.swap is the memory+swap limit (memsw), so it cannot be below the memory limit.
            if (m.Swap is > 0 && m.Limit is > 0 && m.Swap < m.Limit)
                p.Add($"{f}.memory.swap: {m.Swap} is below memory.limit {m.Limit} (swap is the memory+swap limit)");
            if (m.Swap is > 0 && m.Limit is null or -1)
                p.Add($"{f}.memory.swap: a memory+swap limit needs a memory.limit");
            if (m.Swappiness is > 100) p.Add($"{f}.memory.swappiness: {m.Swappiness} is above 100");
        }
        if (r.Cpu is { } cpu)
        {
            if (cpu.Quota is < -1) p.Add($"{f}.cpu.quota: must be -1 (unlimited) or positive, not {cpu.Quota}");
            if (cpu.Quota is > 0 and < 1000) p.Add($"{f}.cpu.quota: {cpu.Quota} is below the kernel's minimum of 1000 µs");
            if (cpu.Quota is > 0 && cpu.Period is null or 0) p.Add($"{f}.cpu.quota: needs cpu.period");
            if (cpu.Period is { } period and not 0 && (period < 1000 || period > 1_000_000))
                p.Add($"{f}.cpu.period: {period} is outside 1000..1000000 µs");
            if (cpu.Burst is > 0 && cpu.Quota is null or <= 0) p.Add($"{f}.cpu.burst: needs cpu.quota");
            if (cpu.Shares is 1) p.Add($"{f}.cpu.shares: must be at least 2");
            if (cpu.RealtimeRuntime is < -1) p.Add($"{f}.cpu.realtimeRuntime: must be -1 or non-negative");
            CpuList(cpu.Cpus, $"{f}.cpu.cpus", p);
            CpuList(cpu.Mems, $"{f}.cpu.mems", p);
        }
        if (r.Pids is { } pids && pids.Limit < -1)
            p.Add($"{f}.pids.limit: must be -1 (unlimited) or non-negative, not {pids.Limit}");
        if (r.BlockIo is { } b)
        {
            Weight(b.Weight, $"{f}.blockIO.weight", p);
            Weight(b.LeafWeight, $"{f}.blockIO.leafWeight", p);
            for (var i = 0; i < b.WeightDevices.Count; i++)
            {
                Weight(b.WeightDevices[i].Weight, $"{f}.blockIO.weightDevice[{i}].weight", p);
                Weight(b.WeightDevices[i].LeafWeight, $"{f}.blockIO.weightDevice[{i}].leafWeight", p);
            }
        }
        for (var i = 0; i < r.HugepageLimits.Count; i++)
        {
            var size = r.HugepageLimits[i].Pagesize;
            var digits = size.TakeWhile(char.IsAsciiDigit).Count();
            if (digits == 0 || size[digits..] is not ("KB" or "MB" or "GB"))
                p.Add($"{f}.hugepageLimits[{i}].pageSize: \"{size}\" is not a size like \"2MB\" or \"1GB\"");
        }
        foreach (var key in r.Unified.Keys)
        {
            // Each key names a file in the container's cgroup directory.
            if (key.Length == 0 || key.Contains('/') || key.StartsWith('.') || HasNul(key))
                p.Add($"{f}.unified[\"{Printable(key)}\"]: not a cgroup file name");
        }
    }

    private static void Limit(long? v, string field, List<string> p)
    {
        if (v is < -1) p.Add($"{field}: must be -1 (unlimited) or non-negative, not {v}");
    }

    private static void Weight(ushort? v, string field, List<string> p)
    {
        if (v is { } w and not 0 && (w < 10 || w > 1000)) p.Add($"{field}: {w} is outside 10..1000");
    }

    private static void CpuList(string? list, string field, List<string> p)
    {
        if (string.IsNullOrEmpty(list)) return;
        foreach (var part in list.Split(','))
        {
            var range = part.Split('-');
            if (range.Length > 2 || range.Any(x => x.Length == 0 || !x.All(char.IsAsciiDigit)))
            {
                p.Add($"{field}: \"{list}\" is not a list like \"0-3,5\"");
                return;
            }
        }
    }

    private static void CheckProcess(ProcessConfig proc, string f, List<string> p)
    {
        if (proc.Args.Count == 0 || proc.Args[0].Length == 0) p.Add($"{f}.args: must name a program to run");
        for (var i = 0; i < proc.Args.Count; i++)
            if (HasNul(proc.Args[i])) p.Add($"{f}.args[{i}]: contains a NUL byte");
        for (var i = 0; i < proc.Env.Count; i++)
        {
            var e = proc.Env[i];
            if (HasNul(e)) p.Add($"{f}.env[{i}]: contains a NUL byte");
            else if (e.IndexOf('=') <= 0) p.Add($"{f}.env[{i}]: \"{e}\" is not KEY=VALUE");
        }
        if (!proc.Cwd.StartsWith('/') || HasNul(proc.Cwd)) p.Add($"{f}.cwd: \"{Printable(proc.Cwd)}\" is not an absolute path");
        if (proc.User.Umask is > 0x1FF) p.Add($"{f}.user.umask: {proc.User.Umask} is above 0777");
        if (proc.OomScoreAdj is < -1000 or > 1000) p.Add($"{f}.oomScoreAdj: {proc.OomScoreAdj} is outside -1000..1000");
        if (proc.Capabilities is { } caps)
        {
            var last = CapabilityNames.LastCap();
            CheckCaps(caps.Bounding, $"{f}.capabilities.bounding", last, p);
            CheckCaps(caps.Effective, $"{f}.capabilities.effective", last, p);
            CheckCaps(caps.Inheritable, $"{f}.capabilities.inheritable", last, p);
            CheckCaps(caps.Permitted, $"{f}.capabilities.permitted", last, p);
            CheckCaps(caps.Ambient, $"{f}.capabilities.ambient", last, p);
        }
        var types = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < proc.Rlimits.Count; i++)
        {
            var r = proc.Rlimits[i];
            if (!RlimitNames.TryParse(r.Type, out _)) p.Add($"{f}.rlimits[{i}].type: unknown rlimit type \"{r.Type}\"");
            else if (!types.Add(r.Type)) p.Add($"{f}.rlimits[{i}].type: \"{r.Type}\" is set twice");
            if (r.Soft > r.Hard) p.Add($"{f}.rlimits[{i}]: soft limit {r.Soft} is above hard limit {r.Hard}");
        }
    }

    private static void CheckCaps(IReadOnlyList<string> names, string field, int lastCap, List<string> p)
    {
        foreach (var name in names)
        {
            if (!CapabilityNames.TryGetNumber(name, out var n))
                p.Add($"{field}: unknown capability \"{name}\"");
            else if (n > lastCap)
                p.Add($"{field}: {name} is not supported by the running kernel (cap_last_cap is {lastCap.ToString(CultureInfo.InvariantCulture)})");
        }
    }

    private static void CheckHooks(HooksConfig h, List<string> p)
    {
        CheckHookList(h.Prestart, "hooks.prestart", p);
        CheckHookList(h.CreateRuntime, "hooks.createRuntime", p);
        CheckHookList(h.CreateContainer, "hooks.createContainer", p);
        CheckHookList(h.StartContainer, "hooks.startContainer", p);
        CheckHookList(h.Poststart, "hooks.poststart", p);
        CheckHookList(h.Poststop, "hooks.poststop", p);
    }

    private static void CheckHookList(IReadOnlyList<Hook> hooks, string field, List<string> p)
    {
        for (var i = 0; i < hooks.Count; i++)
        {
            var h = hooks[i];
            if (!h.Path.StartsWith('/') || HasNul(h.Path)) p.Add($"{field}[{i}].path: \"{Printable(h.Path)}\" is not an absolute path");
            if (h.Timeout is <= 0) p.Add($"{field}[{i}].timeout: must be a positive number of seconds");
            if (h.Args.Any(HasNul) || h.Env.Any(HasNul)) p.Add($"{field}[{i}]: an argument or environment entry contains a NUL byte");
        }
    }

    private static readonly HashSet<string> SeccompActions = new(StringComparer.Ordinal)
    {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    };

    private static readonly HashSet<string> SeccompOps = new(StringComparer.Ordinal)
    {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
    };

    private static readonly HashSet<string> SeccompFlags = new(StringComparer.Ordinal)
    {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    };

    private static readonly HashSet<string> SeccompArchitectures = new(StringComparer.Ordinal)
    {
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
        "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    };

    private static void CheckSeccomp(SeccompConfig? s, List<string> p)
    {
        if (s is null) return;
        const string f = "linux.seccomp";
        var usesNotify = s.DefaultAction == "SCMP_ACT_NOTIFY";
        if (!SeccompActions.Contains(s.DefaultAction)) p.Add($"{f}.defaultAction: unknown action \"{s.DefaultAction}\"");
        foreach (var a in s.Architectures)
            if (!SeccompArchitectures.Contains(a)) p.Add($"{f}.architectures: unknown architecture \"{a}\"");
        foreach (var fl in s.Flags)
            if (!SeccompFlags.Contains(fl)) p.Add($"{f}.flags: unknown flag \"{fl}\"");
        for (var i = 0; i < s.Syscalls.Count; i++)
        {
            var sc = s.Syscalls[i];
            if (!SeccompActions.Contains(sc.Action)) p.Add($"{f}.syscalls[{i}].action: unknown action \"{sc.Action}\"");
            usesNotify |= sc.Action == "SCMP_ACT_NOTIFY";
            if (sc.Names.Count == 0 || sc.Names.Any(n => n.Length == 0)) p.Add($"{f}.syscalls[{i}].names: empty syscall name");
            for (var j = 0; j < sc.Args.Count; j++)
            {
                if (sc.Args[j].Index > 5) p.Add($"{f}.syscalls[{i}].args[{j}].index: {sc.Args[j].Index} is above 5 (syscalls have six arguments)");
                if (!SeccompOps.Contains(sc.Args[j].Op)) p.Add($"{f}.syscalls[{i}].args[{j}].op: unknown operator \"{sc.Args[j].Op}\"");
            }
        }
        if (usesNotify && string.IsNullOrEmpty(s.ListenerPath))
            p.Add($"{f}.listenerPath: SCMP_ACT_NOTIFY needs a listener socket path");
    }
}
