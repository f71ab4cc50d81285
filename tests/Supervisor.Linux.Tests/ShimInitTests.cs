using System.Text.Json;
using Supervisor.Linux.Shim;

namespace Supervisor.Linux.Tests;

/// <summary>A busybox rootfs built once per test class by scripts/make-rootfs.sh.</summary>
public sealed class BusyboxRootfs : IDisposable
{
    public BusyboxRootfs()
    {
        Base = ShimTestEnvironment.TempDir("shim-rootfs");
        Path = System.IO.Path.Combine(Base, "rootfs");
        var (code, _, err) = ShimTestEnvironment.Run("/bin/sh",
            System.IO.Path.Combine(ShimTestEnvironment.RepoRoot, "scripts", "make-rootfs.sh"), Path);
        if (code != 0)
            throw new InvalidOperationException("make-rootfs.sh failed: " + err);
    }

    public string Base { get; }
    public string Path { get; }

    public void Dispose() => Directory.Delete(Base, recursive: true);
}

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
/// <summary>Init mode against the real kernel: new namespaces, mounts, pivot_root (needs root).</summary>
public class ShimInitTests : IClassFixture<BusyboxRootfs>
{
    private const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8;
    private const ulong CLONE_NEWNS = 0x00020000, CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000,
        CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000;
    private static readonly TimeSpan T = TimeSpan.FromSeconds(20);
    private readonly BusyboxRootfs _rootfs;

    public ShimInitTests(BusyboxRootfs rootfs) => _rootfs = rootfs;

    private ShimRequest Init(string stateDir, string script)
    {
        var r = new ShimRequest
        {
            Mode = ShimMode.Init,
            Rootfs = _rootfs.Path,
            StateDir = stateDir,
            Hostname = "shimtest",
            Flags = ShimFlags.SetupRootfs | ShimFlags.LoopbackUp,
        };
        r.Args.AddRange(["/bin/sh", "-c", script]);
        r.Env.Add("PATH=/bin:/sbin");
        foreach (var ns in new[] { CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET })
            r.Namespaces.Add(new ShimNamespace(ns, null));
        r.RootfsOps.Add(new ShimMount(ShimMountKind.Fs, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, [], "", false));
        r.RootfsOps.Add(new ShimMount(ShimMountKind.Fs, "tmpfs", "/dev", "tmpfs", MS_NOSUID, 0, [], "mode=755", false));
        r.RootfsOps.Add(new ShimMount(ShimMountKind.Fs, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, 0, [],
            "newinstance,ptmxmode=0666,mode=0620", false));
        r.RootfsOps.Add(new ShimDevice("/dev/null", 0x2000 | 0x1b6, 1, 3, 0, 0));
        r.RootfsOps.Add(new ShimDevice("/dev/zero", 0x2000 | 0x1b6, 1, 5, 0, 0));
        r.RootfsOps.Add(new ShimSymlink("pts/ptmx", "/dev/ptmx"));
        return r;
    }

    [RootFact]
    public void Init_mode_creates_namespaces_mounts_and_pivots()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            // A file and a directory to mask, a path to make read-only.
            Directory.CreateDirectory(Path.Combine(_rootfs.Path, "secret-dir"));
            File.WriteAllText(Path.Combine(_rootfs.Path, "secret-dir", "inside"), "x");
            File.WriteAllText(Path.Combine(_rootfs.Path, "etc", "secret"), "top secret");
            var r = Init(state, string.Join("; ",
                "echo $$", "hostname", "ls /", "cat /etc/secret | wc -c", "ls /secret-dir | wc -l",
                "(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo rw || echo ro",
                "ip link show lo | grep -c UP", "ls -l /dev/null | cut -c1", "readlink /dev/ptmx"));
            r.MaskPaths.AddRange(["/etc/secret", "/secret-dir", "/does/not/exist"]);
            r.ReadonlyPaths.AddRange(["/proc/sys", "/also/missing"]);

            using var pipe = new TestPipe();
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r, new ShimStdio(0, pipe.Write, pipe.Write));
            pipe.CloseWrite();
            int child = s.WaitChild(T);
            s.Go();
            Assert.Equal(child, s.WaitExeced(T));
            var exit = s.WaitExit(timeout: T);
            var lines = pipe.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(0, exit.ExitCode);

            var rootEntries = Directory.GetFileSystemEntries(_rootfs.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
            int n = rootEntries.Length;
            Assert.Equal("1", lines[0]);
            Assert.Equal("shimtest", lines[1]);
            // `ls /` shows exactly the rootfs: no trace of the host's root.
            Assert.Equal(rootEntries, lines[2..(2 + n)]);
            Assert.Equal("0", lines[2 + n]);       // masked file reads empty
            Assert.Equal("0", lines[3 + n]);       // masked directory is an empty tmpfs
            Assert.Equal("ro", lines[4 + n]);      // /proc/sys is read-only
            Assert.Equal("1", lines[5 + n]);       // lo is up in the new net namespace
            Assert.Equal("c", lines[6 + n]);       // /dev/null is a character device
            Assert.Equal("pts/ptmx", lines[7 + n]);

            var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(state, ShimAbi.ExitFile))).RootElement;
            Assert.Equal(child, json.GetProperty("pid").GetInt32());
            Assert.Equal(0, json.GetProperty("exitCode").GetInt32());
            Assert.Equal(0, json.GetProperty("signal").GetInt32());
            Assert.EndsWith("Z", json.GetProperty("finishedAt").GetString());
            Assert.Equal(0, s.WaitShimExit());
            // Nothing mounted for the container leaked into the host's mount table.
            Assert.DoesNotContain(_rootfs.Path, File.ReadAllText("/proc/self/mountinfo"));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Wait_start_blocks_before_execve_until_started_through_shim_sock()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var r = Init(state, "exit 3");
            r.Flags |= ShimFlags.WaitStart;
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            int child = s.WaitChild(T);
            s.Go();
            Assert.Equal(child, s.WaitReady(T));
            // Still the sealed shim image: execve has not happened.
            Assert.StartsWith("/memfd:supervisor-shim", new FileInfo($"/proc/{child}/exe").LinkTarget);
            var sock = Path.Combine(state, ShimAbi.SocketFile);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(sock));

            // The creator detaches (like `supervisor create`); a later `start` goes through shim.sock.
            s.Detach();
            Assert.True(Directory.Exists($"/proc/{child}"));
            Assert.Equal(child, ShimControl.Start(state, T));
            Assert.False(File.Exists(sock));
            Assert.Equal(3, s.WaitShimExit());
            var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(state, ShimAbi.ExitFile))).RootElement;
            Assert.Equal(3, json.GetProperty("exitCode").GetInt32());
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Abort_before_start_kills_the_child()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var r = Init(state, "exit 0");
            r.Flags |= ShimFlags.WaitStart;
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            int child = s.WaitChild(T);
            s.Go();
            s.WaitReady(T);
            s.Abort();
            Assert.Equal(255, s.WaitShimExit());
            Assert.False(Directory.Exists($"/proc/{child}"));
            Assert.False(File.Exists(Path.Combine(state, ShimAbi.ExitFile)));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void A_failing_mount_reports_the_mount_step_and_its_destination()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var r = Init(state, "true");
            r.RootfsOps.Add(new ShimMount(ShimMountKind.Fs, "none", "/mnt/bad", "nope", 0, 0, [], "", false));
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(ShimStep.Mount, e.Step);
            Assert.Equal(Errno.ENODEV, e.Errno);
            Assert.Equal("/mnt/bad", e.Detail);
            Assert.Equal("mount /mnt/bad: no such device", e.Message);
            Assert.Equal(255, s.WaitShimExit());
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void A_symlinked_proc_is_refused_and_nothing_is_created_outside_the_rootfs()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        var rootfs = Path.Combine(state, "rootfs");
        var outside = Path.Combine(state, "outside");
        try
        {
            // A copy of the rootfs whose /proc points outside it (CVE-2019-19921 shape) and whose /mnt is
            // an absolute symlink to a host path (CVE-2021-30465 shape).
            ShimTestEnvironment.Run("cp", "-a", _rootfs.Path, rootfs);
            Directory.Delete(Path.Combine(rootfs, "proc"));
            File.CreateSymbolicLink(Path.Combine(rootfs, "proc"), outside);
            Directory.Delete(Path.Combine(rootfs, "mnt"), recursive: true);
            File.CreateSymbolicLink(Path.Combine(rootfs, "mnt"), outside);

            var r = Init(state, "true");
            r.Rootfs = rootfs;
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(ShimStep.MountTarget, e.Step);
            Assert.Equal(Errno.ENOTDIR, e.Errno);
            Assert.Equal("/proc", e.Detail);
            s.WaitShimExit();

            // A bind below the /mnt symlink is resolved inside the rootfs. While the link dangles there, the
            // shim refuses to create through it rather than following it anywhere.
            ShimRequest BindUnderMnt()
            {
                var b = Init(state, "ls /mnt/sub");
                b.Rootfs = rootfs;
                b.RootfsOps.RemoveAt(0); // no proc mount this time
                b.RootfsOps.Add(new ShimMount(ShimMountKind.Bind, "/etc", "/mnt/sub", "", 0x1000 | MS_RDONLY, 0, [], "", false));
                return b;
            }
            using (var s1 = ShimSession.Spawn(ShimTestEnvironment.ShimPath, BindUnderMnt()))
            {
                s1.WaitChild(T);
                s1.Go();
                var dangling = Assert.Throws<ShimException>(() => s1.WaitExeced(T));
                Assert.Equal(ShimStep.MountTarget, dangling.Step);
                Assert.Equal(Errno.ENOENT, dangling.Errno);
                s1.WaitShimExit();
            }
            Assert.False(Directory.Exists(outside), "created a directory outside the rootfs");

            var inRoot = Path.Combine(rootfs, state.TrimStart('/'), "outside");
            Directory.CreateDirectory(inRoot);
            using var pipe = new TestPipe();
            using var s2 = ShimSession.Spawn(ShimTestEnvironment.ShimPath, BindUnderMnt(), new ShimStdio(0, pipe.Write, pipe.Write));
            pipe.CloseWrite();
            s2.WaitChild(T);
            s2.Go();
            s2.WaitExeced(T);
            Assert.Equal(0, s2.WaitExit(timeout: T).ExitCode);
            Assert.Contains("passwd", pipe.ReadToEnd());
            s2.WaitShimExit();
            Assert.False(Directory.Exists(outside), "created a directory outside the rootfs");
            Assert.True(Directory.Exists(Path.Combine(inRoot, "sub")));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    private static (ShimExit Exit, string Output) RunInit(ShimRequest r)
    {
        using var pipe = new TestPipe();
        using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r, new ShimStdio(0, pipe.Write, pipe.Write));
        pipe.CloseWrite();
        s.WaitChild(T);
        s.Go();
        s.WaitExeced(T);
        var exit = s.WaitExit(timeout: T);
        var output = pipe.ReadToEnd();
        s.WaitShimExit();
        return (exit, output);
    }

    [RootFact]
    public void Sysctls_are_written_inside_the_container_before_proc_sys_turns_read_only()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var hostDomain = File.ReadAllText("/proc/sys/kernel/domainname");
            var r = Init(state, "cat /proc/sys/kernel/domainname; (echo y > /proc/sys/kernel/domainname) 2>/dev/null || echo ro");
            r.Sysctls.Add(("kernel/domainname", "inside.example"));
            r.ReadonlyPaths.Add("/proc/sys");
            var (exit, output) = RunInit(r);
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("inside.example\nro\n", output);
            Assert.Equal(hostDomain, File.ReadAllText("/proc/sys/kernel/domainname"));

            var bad = Init(state, "true");
            bad.Sysctls.Add(("kernel/no_such_key", "1"));
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, bad);
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(ShimStep.Sysctl, e.Step);
            Assert.Equal("kernel/no_such_key", e.Detail);
            s.WaitShimExit();
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Read_only_rootfs_and_no_pivot_mode()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var r = Init(state, "touch /newfile 2>/dev/null && echo rw || echo ro; touch /dev/ok && echo dev-rw; ls /");
            r.Flags |= ShimFlags.ReadonlyRootfs | ShimFlags.NoPivot;
            var (exit, output) = RunInit(r);
            Assert.Equal(0, exit.ExitCode);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("ro", lines[0]);
            Assert.Equal("dev-rw", lines[1]); // the tmpfs on /dev is a separate, writable mount
            Assert.Contains("bin", lines);
            Assert.False(File.Exists(Path.Combine(_rootfs.Path, "newfile")));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Terminal_in_init_mode_binds_the_pty_on_dev_console()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var r = Init(state, "tty; ls -l /dev/console | cut -c1; stty size");
            r.Flags |= ShimFlags.Terminal;
            r.ConsoleSize = (33, 101);
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            s.WaitChild(T);
            s.Go();
            s.WaitExeced(T);
            Assert.NotNull(s.PtyMaster);
            Assert.Equal(0, s.WaitExit(timeout: T).ExitCode);
            var text = new System.Text.StringBuilder();
            var buf = new byte[4096];
            using var fs = new FileStream(s.PtyMaster!, FileAccess.Read, 1);
            try
            {
                int n;
                while ((n = fs.Read(buf)) > 0)
                    text.Append(System.Text.Encoding.UTF8.GetString(buf, 0, n));
            }
            catch (IOException)
            {
            }
            Assert.Matches(@"^/dev/pts/0\r\nc\r\n33 101\r\n$", text.ToString());
            s.WaitShimExit();
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Exec_mode_joins_a_running_container_by_namespace_paths()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            using var init = ShimSession.Spawn(ShimTestEnvironment.ShimPath, Init(state, "sleep 30"));
            int pid = init.WaitChild(T);
            init.Go();
            init.WaitExeced(T);

            var r = new ShimRequest { Mode = ShimMode.Exec };
            r.Args.AddRange(["/bin/sh", "-c", "echo $$; hostname; ls /; cat /proc/1/cmdline | tr '\\0' ' '"]);
            r.Env.Add("PATH=/bin");
            foreach (var ns in new[] { "ipc", "uts", "net", "pid", "mnt" })
                r.Namespaces.Add(new ShimNamespace(ns switch
                {
                    "ipc" => CLONE_NEWIPC, "uts" => CLONE_NEWUTS, "net" => CLONE_NEWNET, "pid" => CLONE_NEWPID, _ => CLONE_NEWNS,
                }, $"/proc/{pid}/ns/{ns}"));
            var (exit, output) = RunInit(r);
            Assert.Equal(0, exit.ExitCode);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEqual("1", lines[0]);
            Assert.True(int.Parse(lines[0]) < 100, "pid inside the container's pid namespace");
            Assert.Equal("shimtest", lines[1]);
            Assert.Contains("bin", lines);
            Assert.Equal("sleep 30 ", lines[^1]);

            Syscalls.Kill(pid, Syscalls.SIGKILL);
            Assert.Equal(9, init.WaitExit(timeout: T).Signal);
            Assert.Equal(137, init.WaitShimExit());
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void A_user_namespace_container_runs_as_mapped_root_with_bound_devices()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            const ulong CLONE_NEWUSER = 0x10000000;
            var r = Init(state, "id -u; cat /proc/self/uid_map; echo > /dev/null && echo null-ok; (echo x > /proc/sys/kernel/domainname) 2>/dev/null || echo ro");
            r.Namespaces.Insert(0, new ShimNamespace(CLONE_NEWUSER, null));
            r.Flags |= ShimFlags.NewUserns | ShimFlags.DevBind;
            r.ReadonlyPaths.Add("/proc/sys");
            using var pipe = new TestPipe();
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r, new ShimStdio(0, pipe.Write, pipe.Write));
            pipe.CloseWrite();
            int child = s.WaitChild(T);
            // The runtime's part between CHILD and GO: the id maps.
            File.WriteAllText($"/proc/{child}/uid_map", "0 0 65536");
            File.WriteAllText($"/proc/{child}/gid_map", "0 0 65536");
            s.Go();
            s.WaitExeced(T);
            var exit = s.WaitExit(timeout: T);
            var lines = pipe.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("0", lines[0]);
            Assert.Equal(["0", "0", "65536"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal("null-ok", lines[2]);
            Assert.Equal("ro", lines[3]);
            s.WaitShimExit();
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Masking_refuses_a_dev_null_that_is_a_symlink()
    {
        // CVE-2025-31133: with /dev/null swapped for a symlink to a procfs file, a path-based bind would
        // expose that file read-write in place of the masked one.
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var rootfs = Path.Combine(state, "rootfs");
            ShimTestEnvironment.Run("cp", "-a", _rootfs.Path, rootfs);
            File.CreateSymbolicLink(Path.Combine(rootfs, "dev", "null"), "/proc/sys/kernel/core_pattern");
            var before = File.ReadAllText("/proc/sys/kernel/core_pattern");
            var r = Init(state, "true");
            r.Rootfs = rootfs;
            r.RootfsOps.RemoveAll(op => op is ShimMount { FsType: "tmpfs" or "devpts" } or ShimDevice or ShimSymlink);
            r.MaskPaths.Add("/etc/passwd");
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(ShimStep.MaskPath, e.Step);
            Assert.Equal("/dev/null", e.Detail);
            Assert.Equal(255, s.WaitShimExit());
            Assert.Equal(before, File.ReadAllText("/proc/sys/kernel/core_pattern"));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void A_cwd_outside_the_root_through_a_passed_fd_is_detected()
    {
        // CVE-2024-21626: a host directory fd reaching the container makes /proc/self/fd/N a way out.
        // Pass one on purpose (as a preserved fd) and use it as the cwd: getcwd reports it unreachable.
        var state = ShimTestEnvironment.TempDir("shim-state");
        int dirFd = Interop.LibcIo.Open(state, Interop.LibcIo.O_PATH | Interop.LibcIo.O_DIRECTORY, 0);
        Assert.True(dirFd > 2);
        try
        {
            // Control: the fd does arrive, and chdir through it works (from a shell, after execve).
            var probe = Init(state, $"cd /proc/self/fd/{dirFd} && echo entered");
            probe.PreserveFds = (uint)(dirFd - 2);
            var (exit, output) = RunInit(probe);
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("entered\n", output);

            var r = Init(state, "pwd");
            r.PreserveFds = (uint)(dirFd - 2);
            r.Cwd = $"/proc/self/fd/{dirFd}";
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            s.WaitChild(T);
            s.Go();
            var e = Assert.Throws<ShimException>(() => s.WaitExeced(T));
            Assert.Equal(ShimStep.Chdir, e.Step);
            Assert.Equal(Errno.ENOENT, e.Errno);
            Assert.Equal(r.Cwd, e.Detail);
            Assert.Equal(255, s.WaitShimExit());
        }
        finally
        {
            Interop.LibcIo.Close(dirFd);
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void Read_only_paths_cover_the_mounts_below_them()
    {
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var r = Init(state, "touch /run/sub/x 2>/dev/null && echo sub-rw || echo sub-ro; touch /tmp/y && echo tmp-rw");
            r.RootfsOps.Add(new ShimMount(ShimMountKind.Fs, "tmpfs", "/run/sub", "tmpfs", 0, 0, [], "", false));
            r.RootfsOps.Add(new ShimMount(ShimMountKind.Fs, "tmpfs", "/tmp", "tmpfs", 0, 0, [], "", false));
            r.ReadonlyPaths.Add("/run");
            var (exit, output) = RunInit(r);
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("sub-ro\ntmp-rw\n", output);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [RootFact]
    public void A_dev_console_symlink_is_replaced_not_followed()
    {
        // CVE-2025-52565: binding the pty through an image's /dev/console symlink would hit the target.
        var state = ShimTestEnvironment.TempDir("shim-state");
        try
        {
            var rootfs = Path.Combine(state, "rootfs");
            ShimTestEnvironment.Run("cp", "-a", _rootfs.Path, rootfs);
            var canary = Path.Combine(state, "canary");
            File.WriteAllText(canary, "untouched");
            File.CreateSymbolicLink(Path.Combine(rootfs, "dev", "console"), canary);
            var r = Init(state, "ls -l /dev/console | cut -c1");
            r.Rootfs = rootfs;
            r.RootfsOps.RemoveAll(op => op is ShimMount { FsType: "tmpfs" });
            r.Flags |= ShimFlags.Terminal;
            using var s = ShimSession.Spawn(ShimTestEnvironment.ShimPath, r);
            s.WaitChild(T);
            s.Go();
            s.WaitExeced(T);
            Assert.Equal(0, s.WaitExit(timeout: T).ExitCode);
            var buf = new byte[256];
            using var fs = new FileStream(s.PtyMaster!, FileAccess.Read, 1);
            int n = 0;
            try
            {
                n = fs.Read(buf);
            }
            catch (IOException)
            {
            }
            Assert.Equal("c\r\n", System.Text.Encoding.UTF8.GetString(buf, 0, n));
            Assert.Equal("untouched", File.ReadAllText(canary));
            s.WaitShimExit();
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
