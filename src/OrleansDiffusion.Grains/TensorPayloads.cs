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
        // The usual case (a float32 CPU tensor laid out densely) is copied out once, with no intermediate tensors.
        if (tensor.dtype == ScalarType.Float32 && tensor.device_type == TorchSharp.DeviceType.CPU && tensor.is_contiguous())
            return new TensorPayload(Shape(tensor), tensor.bytes.ToArray());
        using var typed = tensor.to(ScalarType.Float32);
        using var cpu = typed.cpu();
        using var dense = cpu.contiguous();
        return new TensorPayload(Shape(dense), dense.bytes.ToArray());
    }

    private static int[] Shape(Tensor tensor)
    {
        var shape = tensor.shape;
        var dims = new int[shape.Length];
        for (var i = 0; i < shape.Length; i++) dims[i] = checked((int)shape[i]);
        return dims;
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
