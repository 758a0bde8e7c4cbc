using OrleansDiffusion.Abstractions;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>Tensors travel between silos as float arrays with their shape.</summary>
internal static class TensorPayloads
{
    public static TensorPayload ToPayload(Tensor tensor)
    {
        using var cpu = tensor.to(ScalarType.Float32).cpu().contiguous();
        return new TensorPayload(cpu.shape.Select(d => (int)d).ToArray(), cpu.bytes.ToArray());
    }

    public static Tensor ToTensor(TensorPayload payload, Device? device = null)
    {
        var tensor = TorchSharp.torch.empty(payload.Shape.Select(d => (long)d).ToArray(), ScalarType.Float32);
        tensor.bytes = payload.Data;
        return device is null || device.type == TorchSharp.DeviceType.CPU ? tensor : tensor.to(device);
    }
}
