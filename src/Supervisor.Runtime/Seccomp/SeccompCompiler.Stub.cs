using System.Buffers.Binary;
using Supervisor.Linux.Seccomp;

namespace Supervisor.Runtime.Seccomp;

public static partial class SeccompCompiler
{
    // Classic BPF opcodes (linux/filter.h) and the struct seccomp_data offsets (linux/seccomp.h).
    private const ushort BpfLdWAbs = 0x20;
    private const ushort BpfJmpJa = 0x05;
    private const ushort BpfJmpJeqK = 0x15;
    private const ushort BpfJmpJgtK = 0x25;
    private const ushort BpfJmpJsetK = 0x45;
    private const ushort BpfRetK = 0x06;
    private const uint SeccompDataNr = 0;
    private const uint SeccompDataArch = 4;

    private const uint AuditArchX8664 = 0xC000003E;
    /// <summary>x32 calls arrive as AUDIT_ARCH_X86_64 with this bit set in the number.</summary>
    private const uint X32SyscallBit = 0x40000000;

    /// <summary>
    /// A BPF prologue run before libseccomp's program: for every filtered architecture, a syscall number
    /// above the highest one the profile names returns ENOSYS instead of the default action. Such a call
    /// is newer than the profile, and ENOSYS is what makes libc fall back to the older call it replaces
    /// (glibc's fchmodat2 → fchmodat, futex2 → futex, ...); EPERM would be taken as a real refusal.
    /// Calls the profile does not name below that maximum still get the default action.
    /// </summary>
    internal static byte[] EnosysStub(IReadOnlyList<uint> arches, IReadOnlyCollection<string> names)
    {
        var x32Token = SeccompFilter.ResolveArch("x32");
        var blocks = new List<(uint Arch, long Max, long X32Max)>();
        foreach (var arch in arches)
        {
            var max = MaxSyscall(arch, names);
            if (arch == x32Token)
            {
                // Same AUDIT_ARCH as x86_64; merged into that block below.
                continue;
            }

            var x32Max = arch == AuditArchX8664 && x32Token != 0 && arches.Contains(x32Token)
                ? MaxSyscall(x32Token, names)
                : -1;
            if (max >= 0 || x32Max >= 0)
            {
                blocks.Add((arch, max, x32Max));
            }
        }

        var asm = new Assembler();
        asm.Emit(BpfLdWAbs, SeccompDataArch);
        for (var b = 0; b < blocks.Count; b++)
        {
            var (arch, max, x32Max) = blocks[b];
            var next = $"next{b}";
            asm.Jump(BpfJmpJeqK, arch, null, next);
            asm.Emit(BpfLdWAbs, SeccompDataNr);
            if (arch == AuditArchX8664)
            {
                asm.Jump(BpfJmpJsetK, X32SyscallBit, $"x32_{b}", null);
                NumberCheck(asm, max);
                asm.Label($"x32_{b}");
                NumberCheck(asm, x32Max);
            }
            else
            {
                NumberCheck(asm, max);
            }

            asm.Label(next);
        }

        asm.Jump(BpfJmpJa, 0, "pass", null);
        asm.Label("enosys");
        asm.Emit(BpfRetK, SeccompAction.Errno((ushort)ENOSYS));
        asm.Label("pass");
        return asm.Assemble();
    }

    /// <summary>nr &gt; max → ENOSYS, otherwise on to libseccomp; with no maximum, straight on.</summary>
    private static void NumberCheck(Assembler asm, long max)
    {
        if (max < 0)
        {
            asm.Jump(BpfJmpJa, 0, "pass", null);
        }
        else
        {
            asm.Jump(BpfJmpJgtK, (uint)max, "enosys", "pass");
        }
    }

    private static long MaxSyscall(uint arch, IEnumerable<string> names)
    {
        long max = -1;
        foreach (var name in names)
        {
            var nr = SeccompFilter.ResolveSyscall(arch, name);
            if (nr >= 0 && nr > max)
            {
                max = nr;
            }
        }

        return max;
    }

    /// <summary>A tiny classic-BPF assembler with forward labels (BPF jumps only go forward).</summary>
    private sealed class Assembler
    {
        private readonly List<(ushort Code, uint K, string? True, string? False, string? Always)> _code = [];
        private readonly Dictionary<string, int> _labels = new(StringComparer.Ordinal);

        public void Emit(ushort code, uint k) => _code.Add((code, k, null, null, null));

        /// <summary>A conditional jump (null target = the next instruction) or, for BPF_JA, an unconditional one.</summary>
        public void Jump(ushort code, uint k, string? whenTrue, string? whenFalse)
        {
            if (code == BpfJmpJa)
            {
                _code.Add((code, 0, null, null, whenTrue));
            }
            else
            {
                _code.Add((code, k, whenTrue, whenFalse, null));
            }
        }

        public void Label(string name) => _labels[name] = _code.Count;

        public byte[] Assemble()
        {
            var bytes = new byte[_code.Count * SeccompFilter.InstructionSize];
            for (var i = 0; i < _code.Count; i++)
            {
                var (code, k, t, f, always) = _code[i];
                byte jt = 0, jf = 0;
                if (always is not null)
                {
                    k = (uint)Offset(i, always);
                }
                else
                {
                    jt = (byte)Offset(i, t);
                    jf = (byte)Offset(i, f);
                }

                var slot = bytes.AsSpan(i * SeccompFilter.InstructionSize, SeccompFilter.InstructionSize);
                WriteNative16(slot, code);
                slot[2] = jt;
                slot[3] = jf;
                WriteNative32(slot[4..], k);
            }

            return bytes;
        }

        private int Offset(int from, string? label)
        {
            if (label is null)
            {
                return 0;
            }

            var offset = _labels[label] - (from + 1);
            if (offset is < 0 or > byte.MaxValue)
            {
                throw new InvalidOperationException($"BPF jump to {label} out of range ({offset})");
            }

            return offset;
        }

        // struct sock_filter is read by the kernel in host byte order, like libseccomp writes it.
        private static void WriteNative16(Span<byte> dst, ushort value)
        {
            if (BitConverter.IsLittleEndian)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(dst, value);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(dst, value);
            }
        }

        private static void WriteNative32(Span<byte> dst, uint value)
        {
            if (BitConverter.IsLittleEndian)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(dst, value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(dst, value);
            }
        }
    }
}
