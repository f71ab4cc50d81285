using Supervisor.Runtime.Paths;
using Supervisor.Runtime.Users;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Users;

public class ParserTests
{
    [Fact]
    public void ParsesPasswd()
    {
        var users = PasswdParser.Parse("root:x:0:0:root:/root:/bin/sh\n\n  user1:x:1000:1001:User One:/home/user1:/bin/sh  \r\nshort:x:5:6\n");
        Assert.Equal(3, users.Count);
        Assert.Equal(new PasswdEntry("root", "x", 0, 0, "root", "/root", "/bin/sh"), users[0]);
        Assert.Equal(new PasswdEntry("user1", "x", 1000, 1001, "User One", "/home/user1", "/bin/sh"), users[1]);
        Assert.Equal(new PasswdEntry("short", "x", 5, 6, "", "", ""), users[2]);
    }

    [Fact]
    public void MalformedIdsSkipTheLineInsteadOfMeaningRoot()
    {
        var users = PasswdParser.Parse("evil:x:abc:0:::\n# comment\nneg:x:-1:0:::\nbig:x:4294967296:0:::\ngood:x:7:7:::\nnogid:x:8\n");
        Assert.Equal(["good"], users.Select(u => u.Name));
    }

    [Fact]
    public void ParsesGroup()
    {
        var groups = GroupParser.Parse("root:x:0:\naudio:x:29:user1\nvideo:x:44:user1, nobody\n\nbad:x:zz:user1\nnomembers:x:5\n");
        Assert.Equal(4, groups.Count);
        Assert.Equal(("root", 0u), (groups[0].Name, groups[0].Gid));
        Assert.Empty(groups[0].Members);
        Assert.Equal(["user1"], groups[1].Members);
        Assert.Equal(["user1", "nobody"], groups[2].Members);
        Assert.Equal(("nomembers", 5u), (groups[3].Name, groups[3].Gid));
    }

    [Fact]
    public void NullTextIsEmpty()
    {
        Assert.Empty(PasswdParser.Parse(null));
        Assert.Empty(GroupParser.Parse(null));
    }
}

public class UserResolverTests
{
    private const string Passwd = """
        root:x:0:0:root:/root:/bin/sh
        daemon:x:1:1:daemon:/usr/sbin:/bin/false
        user1:x:1000:1000:User One:/home/user1:/bin/sh
        nohome:x:1500:1500:::/bin/sh
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false
        """;

    private const string Group = """
        root:x:0:
        daemon:x:1:
        audio:x:29:user1
        video:x:44:user1,nobody
        user1:x:1000:
        extra:x:2000:user1
        nogroup:x:65534:
        """;

    private static ExecUser R(string? spec, IReadOnlyList<uint>? extra = null) =>
        UserResolver.Resolve(spec, 0, 0, extra ?? [], Passwd, Group);

    private static string Fails(string spec, string? passwd = Passwd, string? group = Group) =>
        Assert.Throws<UserLookupException>(() => UserResolver.Resolve(spec, 0, 0, [], passwd, group)).Message;

    [Fact]
    public void EmptySpecMatchesTheDefaultUid()
    {
        var u = R("");
        Assert.Equal((0u, 0u, "/root"), (u.Uid, u.Gid, u.Home));
        Assert.Empty(u.Sgids);
        var v = UserResolver.Resolve(null, 1000, 7, [], Passwd, Group);
        Assert.Equal((1000u, 1000u, "/home/user1"), (v.Uid, v.Gid, v.Home));
        Assert.Equal([29u, 44u, 2000u], v.Sgids);
    }

    [Fact]
    public void UserName()
    {
        var u = R("user1");
        Assert.Equal((1000u, 1000u, "/home/user1"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([29u, 44u, 2000u], u.Sgids);
    }

    [Fact]
    public void NumericUidInTheFile()
    {
        var u = R("1000");
        Assert.Equal((1000u, 1000u, "/home/user1"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([29u, 44u, 2000u], u.Sgids);
    }

    [Fact]
    public void NumericUidNotInTheFile()
    {
        var u = R("4242");
        Assert.Equal((4242u, 0u, "/"), (u.Uid, u.Gid, u.Home));
        Assert.Empty(u.Sgids);
    }

    [Fact]
    public void UserAndGroupNames()
    {
        var u = R("user1:audio");
        Assert.Equal((1000u, 29u, "/home/user1"), (u.Uid, u.Gid, u.Home));
        // An explicit group means no supplementary groups from membership.
        Assert.Empty(u.Sgids);
    }

    [Fact]
    public void UidAndGid()
    {
        var u = R("1000:44");
        Assert.Equal((1000u, 44u), (u.Uid, u.Gid));
        Assert.Empty(u.Sgids);
        var n = R("5000:6000");
        Assert.Equal((5000u, 6000u, "/"), (n.Uid, n.Gid, n.Home));
    }

    [Fact]
    public void UserAndGid()
    {
        var u = R("user1:7777");
        Assert.Equal((1000u, 7777u), (u.Uid, u.Gid));
    }

    [Fact]
    public void UidAndGroupName()
    {
        var u = R("4242:video");
        Assert.Equal((4242u, 44u), (u.Uid, u.Gid));
    }

    [Fact]
    public void GroupOnly()
    {
        var u = R(":audio");
        Assert.Equal((0u, 29u, "/root"), (u.Uid, u.Gid, u.Home));
    }

    [Fact]
    public void ExtraGidsAreAppendedWithoutDuplicates()
    {
        Assert.Equal([29u, 44u, 2000u, 5u], R("user1", [44, 5]).Sgids);
        Assert.Equal([5u, 6u], R("user1:audio", [5, 6, 5]).Sgids);
    }

    [Fact]
    public void EmptyHomeFallsBackToRoot() => Assert.Equal("/", R("nohome").Home);

    [Fact]
    public void UnknownUser() => Assert.Equal("unable to find user foo", Fails("foo"));

    [Fact]
    public void UnknownGroup() => Assert.Equal("unable to find group bar", Fails("user1:bar"));

    [Theory]
    [InlineData("2147483648", "user id 2147483648 is out of range (0..2147483647)")]
    [InlineData("99999999999999999999999", "user id 99999999999999999999999 is out of range (0..2147483647)")]
    [InlineData("0:2147483648", "group id 2147483648 is out of range (0..2147483647)")]
    public void NumericIdsAreRangeChecked(string spec, string message) => Assert.Equal(message, Fails(spec));

    [Fact]
    public void LargestIdIsAccepted() => Assert.Equal(2147483647u, R("2147483647").Uid);

    [Fact]
    public void TooManyColons() => Assert.Equal("invalid user spec \"a:b:c\": expected user[:group]", Fails("a:b:c"));

    [Fact]
    public void NegativeIsAName() => Assert.Equal("unable to find user -1", Fails("-1"));

    [Fact]
    public void MissingFilesAllowNumbersOnly()
    {
        var u = UserResolver.Resolve("1000:1000", 0, 0, [], null, null);
        Assert.Equal((1000u, 1000u, "/"), (u.Uid, u.Gid, u.Home));
        Assert.Equal("unable to find user root", Fails("root", null, null));
        Assert.Equal("unable to find group audio", Fails("0:audio", null, null));
    }

    [Fact]
    public void FirstMatchWins()
    {
        var u = UserResolver.Resolve("dup", 0, 0, [], "dup:x:10:10::/a:\ndup:x:11:11::/b:\n", null);
        Assert.Equal((10u, 10u, "/a"), (u.Uid, u.Gid, u.Home));
    }
}

public sealed class RootfsLookupTests : IDisposable
{
    private readonly string _dir;

    public RootfsLookupTests() =>
        _dir = InRootResolver.Resolve("/", Directory.CreateTempSubdirectory("rootfs-users").FullName);

    public void Dispose() => Directory.Delete(_dir, true);

    private string MakeRootfs(string name)
    {
        var r = Path.Combine(_dir, name);
        Directory.CreateDirectory(r);
        return r;
    }

    [Fact]
    public void ReadsTheRootfsFiles()
    {
        var rootfs = MakeRootfs("ok");
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        File.WriteAllText(Path.Combine(rootfs, "etc/passwd"), "app:x:4000:4001:App:/srv/app:/bin/sh\n");
        File.WriteAllText(Path.Combine(rootfs, "etc/group"), "team:x:4100:app\n");
        var u = UserResolver.ResolveInRootfs(rootfs, "app", 0, 0, []);
        Assert.Equal((4000u, 4001u, "/srv/app"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([4100u], u.Sgids);
    }

    [Fact]
    public void EtcSymlinkToTheHostIsResolvedInsideTheRootfs()
    {
        // The host's passwd has "root"; a rootfs whose etc points at /etc must not see it.
        Assert.Contains("root:", File.ReadAllText("/etc/passwd"));
        var rootfs = MakeRootfs("escape");
        File.CreateSymbolicLink(Path.Combine(rootfs, "etc"), "/etc");
        // Inside the rootfs, /etc -> /etc points at itself: a loop, so there is no passwd at all.
        Assert.Null(UserResolver.ReadInRoot(rootfs, "/etc/passwd"));
        Assert.Equal("unable to find user root", Assert.Throws<UserLookupException>(() => UserResolver.ResolveInRootfs(rootfs, "root", 0, 0, [])).Message);
        Assert.Equal(0u, UserResolver.ResolveInRootfs(rootfs, "0", 0, 0, []).Uid);
    }

    [Fact]
    public void AbsoluteLinkTargetsMeanTheRootfsRoot()
    {
        var rootfs = MakeRootfs("abs");
        Directory.CreateDirectory(Path.Combine(rootfs, "real/etc"));
        File.WriteAllText(Path.Combine(rootfs, "real/etc/passwd"), "inside:x:77:77::/in:\n");
        File.CreateSymbolicLink(Path.Combine(rootfs, "etc"), "/real/etc");
        Assert.Equal(77u, UserResolver.ResolveInRootfs(rootfs, "inside", 0, 0, []).Uid);
    }

    [Fact]
    public void DotDotLinksCannotClimbOut()
    {
        // A passwd outside the rootfs that "../../real/etc" would reach if ".." could leave the rootfs.
        Directory.CreateDirectory(Path.Combine(_dir, "real/etc"));
        File.WriteAllText(Path.Combine(_dir, "real/etc/passwd"), "outside:x:66:66::/:\n");
        var rootfs = MakeRootfs("dotdot");
        File.CreateSymbolicLink(Path.Combine(rootfs, "etc"), "../../../../real/etc");
        Assert.Equal(Path.Combine(rootfs, "real/etc/passwd"), InRootResolver.Resolve(rootfs, "/etc/passwd"));
        Assert.Null(UserResolver.ReadInRoot(rootfs, "/etc/passwd"));
        Assert.Equal("unable to find user outside",
            Assert.Throws<UserLookupException>(() => UserResolver.ResolveInRootfs(rootfs, "outside", 0, 0, [])).Message);

        // The passwd file itself as a link to the host's file.
        var r2 = MakeRootfs("filelink");
        Directory.CreateDirectory(Path.Combine(r2, "etc"));
        File.CreateSymbolicLink(Path.Combine(r2, "etc/passwd"), "/etc/passwd");
        Assert.Null(UserResolver.ReadInRoot(r2, "/etc/passwd"));
        Assert.Equal("unable to find user root",
            Assert.Throws<UserLookupException>(() => UserResolver.ResolveInRootfs(r2, "root", 0, 0, [])).Message);
    }

    [Fact]
    public void SymlinkLoopMeansNoFile()
    {
        var rootfs = MakeRootfs("loop");
        File.CreateSymbolicLink(Path.Combine(rootfs, "a"), "b");
        File.CreateSymbolicLink(Path.Combine(rootfs, "b"), "a");
        File.CreateSymbolicLink(Path.Combine(rootfs, "etc"), "a");
        Assert.Throws<IOException>(() => InRootResolver.Resolve(rootfs, "/etc/passwd"));
        Assert.Null(UserResolver.ReadInRoot(rootfs, "/etc/passwd"));
        Assert.Equal(3u, UserResolver.ResolveInRootfs(rootfs, "3", 0, 0, []).Uid);
    }

    [Fact]
    public void MissingFilesMeanNumericOnly()
    {
        var rootfs = MakeRootfs("empty");
        var u = UserResolver.ResolveInRootfs(rootfs, "10:20", 0, 0, [3]);
        Assert.Equal((10u, 20u, "/"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([3u], u.Sgids);
    }

    [Fact]
    public void FifoPasswdIsNotOpened()
    {
        var rootfs = MakeRootfs("fifo");
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(rootfs, "etc/passwd"));
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        // Opening a FIFO without a writer would block forever; it must read as empty instead.
        Assert.Equal("", UserResolver.ReadInRoot(rootfs, "/etc/passwd"));
        Assert.Equal(5u, UserResolver.ResolveInRootfs(rootfs, "5", 0, 0, []).Uid);
    }

    [Fact]
    public void BusyboxRootfs()
    {
        var script = Path.Combine(FindRepoRoot(), "scripts/make-rootfs.sh");
        var rootfs = Path.Combine(_dir, "busybox");
        var p = System.Diagnostics.Process.Start("sh", [script, rootfs]);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        var u = UserResolver.ResolveInRootfs(rootfs, "user1", 0, 0, []);
        Assert.Equal((1000u, 1000u, "/home/user1"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([29u, 44u, 2000u], u.Sgids);
    }

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Supervisor.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repo root not found");
    }
}

public sealed class InRootResolverTests : IDisposable
{
    private readonly string _root;

    public InRootResolverTests()
    {
        _root = InRootResolver.Resolve("/", Directory.CreateTempSubdirectory("inroot").FullName);
        Directory.CreateDirectory(Path.Combine(_root, "a/b"));
    }

    public void Dispose() => Directory.Delete(_root, true);

    [Theory]
    [InlineData("/a/b", "/a/b")]
    [InlineData("a/./b/", "/a/b")]
    [InlineData("/../../a", "/a")]
    [InlineData("/a/../../../x", "/x")]
    [InlineData("/", "")]
    [InlineData("/missing/deeper", "/missing/deeper")]
    public void Lexical(string path, string expected) => Assert.Equal(_root + expected, InRootResolver.Resolve(_root, path));

    [Fact]
    public void RelativeLinkIsResolvedFromItsDirectory()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "a/link"), "b");
        Assert.Equal(_root + "/a/b/file", InRootResolver.Resolve(_root, "/a/link/file"));
    }

    [Fact]
    public void ChainOfLinks()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "l1"), "/l2");
        File.CreateSymbolicLink(Path.Combine(_root, "l2"), "a/../a/b");
        Assert.Equal(_root + "/a/b", InRootResolver.Resolve(_root, "/l1"));
    }

    [Fact]
    public void HostRealPath()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "toa"), Path.Combine(_root, "a"));
        Assert.Equal(_root + "/a/b", InRootResolver.Resolve("/", _root + "/toa/b"));
    }

    [Fact]
    public void FortyHopsAreAllowedButNotFortyOne()
    {
        // l0 -> l1 -> ... -> l39 -> a : 40 links followed.
        for (var i = 0; i < 40; i++)
            File.CreateSymbolicLink(Path.Combine(_root, $"l{i}"), i == 39 ? "a" : $"l{i + 1}");
        Assert.Equal(_root + "/a", InRootResolver.Resolve(_root, "/l0"));
        File.CreateSymbolicLink(Path.Combine(_root, "m"), "l0");
        Assert.Throws<IOException>(() => InRootResolver.Resolve(_root, "/m"));
    }
}
