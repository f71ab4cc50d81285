using System.Text.Json.Nodes;
using Supervisor.Integration.Tests.Infrastructure;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Bad input gets one line of error and a non-zero exit, and leaves nothing behind: no state dir, no
/// cgroup, no mount, no process.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    private void AssertFailsCleanly(Bundle b, string id, string expectedMessage, string verb = "run")
    {
        var mountsBefore = File.ReadAllLines("/proc/self/mountinfo").Length;
        var r = Cli.Run(_root.Path, verb, "-b", b.Dir, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("", r.Stdout);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line of error:\n" + r.Stderr);
        Assert.Contains(expectedMessage, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)), "state dir left behind");
        foreach (var ctrl in new[] { "memory", "pids", "cpu", "devices", "freezer" })
            Assert.False(Directory.Exists($"/sys/fs/cgroup/{ctrl}/sv-bad/{id}"), $"{ctrl} cgroup left behind");
        Assert.Equal(mountsBefore, File.ReadAllLines("/proc/self/mountinfo").Length);
        var shims = Shell.Run($"pgrep -f 'supervisor-shim' -a | grep -v pgrep || true").Stdout;
        Assert.DoesNotContain(id, shims);
    }

    private Bundle Bad(Action<JsonObject> edit, string id) => new(_root.Path, edit: c =>
    {
        c["linux"]!["cgroupsPath"] = "/sv-bad/" + id;
        edit(c);
    });

    [RootFact]
    public void Malformed_json()
    {
        var id = StateRoot.NewId("json");
        using var b = new Bundle(_root.Path);
        File.WriteAllText(b.ConfigPath, "{ \"ociVersion\": \"1.0.2\", \"process\": ");
        AssertFailsCleanly(b, id, "config.json");
    }

    [RootFact]
    public void Missing_rootfs()
    {
        var id = StateRoot.NewId("norootfs");
        using var b = Bad(c => c["root"]!["path"] = "/nonexistent/rootfs", id);
        AssertFailsCleanly(b, id, "rootfs");
    }

    [RootFact]
    public void Hostname_without_uts_namespace()
    {
        var id = StateRoot.NewId("uts");
        using var b = Bad(c =>
        {
            var ns = c["linux"]!["namespaces"]!.AsArray();
            foreach (var n in ns.ToList())
                if ((string?)n!["type"] == "uts")
                    ns.Remove(n);
        }, id);
        AssertFailsCleanly(b, id, "hostname");
    }

    [RootFact]
    public void Bad_container_ids_are_refused()
    {
        using var b = new Bundle(_root.Path);
        foreach (var id in new[] { "../escape", "a/b", "bad id" })
        {
            var r = Cli.Run(_root.Path, "run", "-b", b.Dir, id);
            Assert.Equal(1, r.ExitCode);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(_root.Path)!, "escape")));
        Assert.True(!Directory.Exists(_root.Path) || Directory.GetDirectories(_root.Path).Length == 0);
    }

    [RootFact]
    public void A_failing_mount_in_the_shim_is_undone()
    {
        var id = StateRoot.NewId("mount");
        using var b = Bad(c => c["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = "/mnt/bad", ["type"] = "nosuchfs", ["source"] = "none",
        }), id);
        AssertFailsCleanly(b, id, "/mnt/bad");
    }

    [RootFact]
    public void A_missing_binary_is_named()
    {
        var id = StateRoot.NewId("nobin");
        using var b = Bad(c => c["process"]!["args"] = new JsonArray("/bin/does-not-exist"), id);
        AssertFailsCleanly(b, id, "/bin/does-not-exist");
    }

    [RootFact]
    public void Create_of_an_existing_id_is_refused_and_keeps_the_first()
    {
        using var b = new Bundle(_root.Path, args: ["/bin/sleep", "300"]);
        var id = StateRoot.NewId("dup");
        Assert.Equal(0, Shell.Run($"{Shell.Quote(TestPaths.Cli)} --root {_root.Path} create -b {b.Dir} {id} </dev/null >/dev/null 2>&1").ExitCode);
        var again = Cli.Run(_root.Path, "create", "-b", b.Dir, id);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Stderr);
        Assert.Equal("created", (string?)JsonNode.Parse(Cli.Run(_root.Path, "state", id).Stdout)!["status"]);
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "-f", id).ExitCode);
    }

    [RootFact]
    public void Unknown_container_gives_one_line()
    {
        var r = Cli.Run(_root.Path, "state", "no-such-container");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not exist", r.Stderr);
        var json = Cli.Run(_root.Path, "--log-format", "json", "--log", "/dev/null", "state", "no-such-container");
        Assert.Equal(1, json.ExitCode);
        Assert.Single(json.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
