using Supervisor.Runtime.Capabilities;
using Supervisor.Runtime.Rlimits;
using Supervisor.Runtime.Signals;

namespace Supervisor.Runtime.Tests.Tables;

public class CapabilityNamesTests
{
    [Theory]
    [InlineData("CAP_CHOWN", 0)]
    [InlineData("CAP_DAC_OVERRIDE", 1)]
    [InlineData("CAP_KILL", 5)]
    [InlineData("CAP_SETPCAP", 8)]
    [InlineData("CAP_NET_BIND_SERVICE", 10)]
    [InlineData("CAP_NET_RAW", 13)]
    [InlineData("CAP_SYS_CHROOT", 18)]
    [InlineData("CAP_SYS_ADMIN", 21)]
    [InlineData("CAP_MKNOD", 27)]
    [InlineData("CAP_AUDIT_WRITE", 29)]
    [InlineData("CAP_SETFCAP", 31)]
    [InlineData("CAP_SYSLOG", 34)]
    [InlineData("CAP_BLOCK_SUSPEND", 36)]
    [InlineData("CAP_AUDIT_READ", 37)]
    [InlineData("CAP_PERFMON", 38)]
    [InlineData("CAP_BPF", 39)]
    [InlineData("CAP_CHECKPOINT_RESTORE", 40)]
    public void KernelNumbers(string name, int number)
    {
        Assert.True(CapabilityNames.TryGetNumber(name, out var n));
        Assert.Equal(number, n);
        Assert.Equal(name, CapabilityNames.GetName(number));
    }

    [Fact]
    public void TableIsDenseUpToCheckpointRestore()
    {
        Assert.Equal(41, CapabilityNames.All.Count);
        Assert.Equal(41, CapabilityNames.All.Distinct().Count());
        Assert.All(CapabilityNames.All, n => Assert.StartsWith("CAP_", n));
    }

    [Fact]
    public void ToMaskSetsBitsAndReportsUnknown()
    {
        var mask = CapabilityNames.ToMask(["CAP_CHOWN", "CAP_KILL", "CAP_FOO", "cap_chown", "CAP_CHECKPOINT_RESTORE"], out var unknown);
        Assert.Equal((1UL << 0) | (1UL << 5) | (1UL << 40), mask);
        Assert.Equal(["CAP_FOO", "cap_chown"], unknown);
    }

    [Fact]
    public void LastCapReadsTheKernelValue()
    {
        var expected = int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim());
        Assert.Equal(expected, CapabilityNames.LastCap());
    }

    [Fact]
    public void LastCapFallsBackTo40()
    {
        Assert.Equal(40, CapabilityNames.LastCap("/nonexistent/cap_last_cap"));
        var tmp = Path.GetTempFileName();
        try
        {
            File.WriteAllText(tmp, "garbage\n");
            Assert.Equal(40, CapabilityNames.LastCap(tmp));
            File.WriteAllText(tmp, "37\n");
            Assert.Equal(37, CapabilityNames.LastCap(tmp));
        }
        finally { File.Delete(tmp); }
    }
}

public class RlimitNamesTests
{
    [Theory]
    [InlineData("RLIMIT_CPU", 0)]
    [InlineData("RLIMIT_FSIZE", 1)]
    [InlineData("RLIMIT_DATA", 2)]
    [InlineData("RLIMIT_STACK", 3)]
    [InlineData("RLIMIT_CORE", 4)]
    [InlineData("RLIMIT_RSS", 5)]
    [InlineData("RLIMIT_NPROC", 6)]
    [InlineData("RLIMIT_NOFILE", 7)]
    [InlineData("RLIMIT_MEMLOCK", 8)]
    [InlineData("RLIMIT_AS", 9)]
    [InlineData("RLIMIT_LOCKS", 10)]
    [InlineData("RLIMIT_SIGPENDING", 11)]
    [InlineData("RLIMIT_MSGQUEUE", 12)]
    [InlineData("RLIMIT_NICE", 13)]
    [InlineData("RLIMIT_RTPRIO", 14)]
    [InlineData("RLIMIT_RTTIME", 15)]
    public void KernelNumbers(string name, int number)
    {
        Assert.Equal(number, RlimitNames.Parse(name));
        Assert.Equal(name, RlimitNames.GetName(number));
    }

    [Theory]
    [InlineData("NOFILE")]
    [InlineData("rlimit_nofile")]
    [InlineData("RLIMIT_FOO")]
    [InlineData("")]
    public void UnknownNamesAreRefused(string name)
    {
        Assert.False(RlimitNames.TryParse(name, out _));
        Assert.Equal($"unknown rlimit type \"{name}\"", Assert.Throws<FormatException>(() => RlimitNames.Parse(name)).Message);
    }
}

public class SignalNamesTests
{
    [Theory]
    [InlineData("KILL", 9)]
    [InlineData("SIGKILL", 9)]
    [InlineData("kill", 9)]
    [InlineData("sigterm", 15)]
    [InlineData("9", 9)]
    [InlineData("15", 15)]
    [InlineData("HUP", 1)]
    [InlineData("SIGUSR1", 10)]
    [InlineData("USR2", 12)]
    [InlineData("SIGSTKFLT", 16)]
    [InlineData("CHLD", 17)]
    [InlineData("SIGCLD", 17)]
    [InlineData("CONT", 18)]
    [InlineData("STOP", 19)]
    [InlineData("WINCH", 28)]
    [InlineData("IO", 29)]
    [InlineData("POLL", 29)]
    [InlineData("PWR", 30)]
    [InlineData("SYS", 31)]
    [InlineData("IOT", 6)]
    [InlineData("SIGRTMIN", 34)]
    [InlineData("RTMIN+3", 37)]
    [InlineData("SIGRTMIN+3", 37)]
    [InlineData("SIGRTMIN+30", 64)]
    [InlineData("SIGRTMAX", 64)]
    [InlineData("SIGRTMAX-2", 62)]
    [InlineData("64", 64)]
    [InlineData("SIG32", 32)]
    public void Parses(string text, int number) => Assert.Equal(number, SignalNames.Parse(text));

    [Theory]
    [InlineData("FOO")]
    [InlineData("SIGFOO")]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("-9")]
    [InlineData("")]
    [InlineData("SIGRTMIN+31")]
    [InlineData("SIGRTMIN-1")]
    [InlineData("SIGRTMAX+1")]
    [InlineData("SIGRTMAX-31")]
    [InlineData("RTMIN+x")]
    [InlineData("9x")]
    public void RefusesWithOneLine(string text) =>
        Assert.Equal($"invalid signal \"{text}\"", Assert.Throws<FormatException>(() => SignalNames.Parse(text)).Message);

    [Theory]
    [InlineData(9, "SIGKILL")]
    [InlineData(15, "SIGTERM")]
    [InlineData(6, "SIGABRT")]
    [InlineData(17, "SIGCHLD")]
    [InlineData(29, "SIGIO")]
    [InlineData(34, "SIGRTMIN")]
    [InlineData(37, "SIGRTMIN+3")]
    [InlineData(49, "SIGRTMIN+15")]
    [InlineData(50, "SIGRTMAX-14")]
    [InlineData(63, "SIGRTMAX-1")]
    [InlineData(64, "SIGRTMAX")]
    [InlineData(32, "SIG32")]
    public void Names(int number, string name) => Assert.Equal(name, SignalNames.ToName(number));

    [Fact]
    public void EveryNumberRoundTrips()
    {
        for (var n = 1; n <= 64; n++) Assert.Equal(n, SignalNames.Parse(SignalNames.ToName(n)));
    }

    [Fact]
    public void ToNameRejectsNonSignals()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SignalNames.ToName(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SignalNames.ToName(65));
    }
}
