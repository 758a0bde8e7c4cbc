using System.Runtime.InteropServices;
using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Exchange;

/// <summary>Tensors as <see cref="TensorPayload"/>s (float32 samples as raw bytes with their shape): how latents travel
/// between silos, and how the band exchange's messages are held, so a band crosses a hop with one copy at each end.</summary>
public static class TensorPayloads
{
    public static TensorPayload ToPayload(Tensor tensor)
    {
        // The usual case (a float32 CPU tensor laid out densely) is copied out once, with no intermediate tensors.
        if (tensor.dtype == ScalarType.Float32 && tensor.device_type == TorchSharp.DeviceType.CPU && tensor.is_contiguous())
            return new TensorPayload(Shape(tensor), tensor.bytes.ToArray());
        using var typed = tensor.to(ScalarType.Float32);
        using var cpu = typed.cpu();
        using var dense = cpu.contiguous();
        return new TensorPayload(Shape(dense), dense.bytes.ToArray());
    }

    public static Tensor ToTensor(TensorPayload payload, Device? device = null)
    {
        var tensor = empty(payload.Shape.Select(d => (long)d).ToArray(), ScalarType.Float32);
        tensor.bytes = payload.Data;
        return device is null || device.type == TorchSharp.DeviceType.CPU ? tensor : tensor.to(device);
    }

    /// <summary>A [<paramref name="rows"/>, <paramref name="columns"/>] payload whose samples the caller writes next
    /// (through <see cref="Floats"/>; not zeroed first).</summary>
    public static TensorPayload Uninitialized(int rows, int columns) =>
        new([rows, columns], GC.AllocateUninitializedArray<byte>(checked(rows * columns * sizeof(float))));

    /// <summary>The payload's samples, in place.</summary>
    public static Span<float> Floats(TensorPayload payload) => MemoryMarshal.Cast<byte, float>(payload.Data.AsSpan());

    /// <summary>The payload's samples, checked against the shape a sender was to use (a peer is never trusted: a wrong
    /// shape or a byte count that does not match it is refused, naming <paramref name="what"/>).</summary>
    public static ReadOnlySpan<float> Checked(TensorPayload payload, string what, params ReadOnlySpan<int> shape)
    {
        var expected = 1L;
        foreach (var d in shape) expected *= d;
        if (!payload.Shape.AsSpan().SequenceEqual(shape) || payload.Data.LongLength != expected * sizeof(float))
            throw new ArgumentException($"{what}: [{string.Join(", ", payload.Shape)}] with {payload.Data.LongLength} bytes, expected [{string.Join(", ", shape.ToArray())}] with {expected * sizeof(float)}");
        return MemoryMarshal.Cast<byte, float>(payload.Data.AsSpan());
    }

    private static int[] Shape(Tensor tensor)
    {
        var shape = tensor.shape;
        var dims = new int[shape.Length];
        for (var i = 0; i < shape.Length; i++) dims[i] = checked((int)shape[i]);
        return dims;
    }
}
