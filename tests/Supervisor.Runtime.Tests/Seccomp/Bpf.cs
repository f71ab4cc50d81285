using System.Buffers.Binary;

namespace Supervisor.Runtime.Tests.Seccomp;

/// <summary>Decodes struct sock_filter entries (host byte order, 8 bytes each) for assertions.</summary>
internal readonly record struct BpfInsn(ushort Code, byte Jt, byte Jf, uint K)
{
    public const ushort RetK = 0x06;

    public static List<BpfInsn> Decode(byte[] program)
    {
        Assert.Equal(0, program.Length % 8);
        var list = new List<BpfInsn>();
        for (var i = 0; i < program.Length; i += 8)
        {
            var s = program.AsSpan(i, 8);
            list.Add(new BpfInsn(
                BinaryPrimitives.ReadUInt16LittleEndian(s),
                s[2],
                s[3],
                BinaryPrimitives.ReadUInt32LittleEndian(s[4..])));
        }

        return list;
    }

    public static int CountReturns(byte[] program, uint value) =>
        Decode(program).Count(i => i.Code == RetK && i.K == value);
}
