using OrleansDiffusion.Abstractions;
using OrleansDiffusion.Diffusion.Exchange;
using static TorchSharp.torch;

namespace OrleansDiffusion.Grains;

/// <summary>Tensors travel between silos as float arrays with their shape; the band exchange's messages are converted
/// here too, so both ends of a hop use one mapping.</summary>
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

    public static TensorPayload? ToPayloadOrNull(Tensor? tensor) => tensor is null ? null : ToPayload(tensor);

    public static Tensor? ToTensorOrNull(TensorPayload? payload, Device? device = null) => payload is null ? null : ToTensor(payload, device);

    public static BandUploadPayload ToPayload(BandUpload upload) =>
        new(ToPayload(upload.Bands), ToPayloadOrNull(upload.Pooled), ToPayloadOrNull(upload.Statistics), ToPayload(upload.Thumbnail));

    public static BandUpload ToUpload(int tile, BandUploadPayload payload) =>
        new(tile, ToTensor(payload.Bands), ToTensorOrNull(payload.Pooled), ToTensorOrNull(payload.Statistics), ToTensor(payload.Thumbnail));

    public static BandReplyPayload ToPayload(BandReply reply) =>
        new(ToPayload(reply.Shared), ToPayload(reply.Context), ToPayloadOrNull(reply.Tone));

    public static BandReply ToReply(int tile, BandReplyPayload payload, Device? device = null) =>
        new(tile, ToTensor(payload.Shared, device), ToTensor(payload.Context, device), ToTensorOrNull(payload.Tone, device));
}
