using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Seccomp;

namespace Supervisor.Runtime.Tests.Seccomp;

public sealed class SeccompCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sv-seccache-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, true);
    }

    private static SeccompConfig Profile(string deny) => new()
    {
        DefaultAction = "SCMP_ACT_ALLOW",
        Syscalls = [new SeccompSyscall { Names = [deny], Action = "SCMP_ACT_ERRNO" }],
    };

    [Fact]
    public void A_cached_program_is_the_compiled_one()
    {
        var compiled = SeccompCompiler.Compile(Profile("getcwd"));
        var first = SeccompCache.GetOrCompile(Profile("getcwd"), _dir);
        Assert.Equal(compiled.Program, first.Program);
        Assert.Single(Directory.GetFiles(_dir));
        var second = SeccompCache.GetOrCompile(Profile("getcwd"), _dir);
        Assert.Equal(compiled.Program, second.Program);
        Assert.Equal(compiled.Flags, second.Flags);
    }

    [Fact]
    public void Different_profiles_get_different_entries()
    {
        Assert.NotEqual(SeccompCache.Key(Profile("getcwd")), SeccompCache.Key(Profile("chdir")));
        Assert.Equal(SeccompCache.Key(Profile("getcwd")), SeccompCache.Key(Profile("getcwd")));
        SeccompCache.GetOrCompile(Profile("getcwd"), _dir);
        SeccompCache.GetOrCompile(Profile("chdir"), _dir);
        Assert.Equal(2, Directory.GetFiles(_dir).Length);
    }

    [Fact]
    public void A_torn_entry_is_ignored_and_recompiled()
    {
        var path = Path.Combine(_dir, SeccompCache.Key(Profile("getcwd")) + ".bpf");
        Directory.CreateDirectory(_dir);
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7]);
        var result = SeccompCache.GetOrCompile(Profile("getcwd"), _dir);
        Assert.Equal(SeccompCompiler.Compile(Profile("getcwd")).Program, result.Program);
        Assert.Equal(4 + result.Program.Length, new FileInfo(path).Length);
    }
}
