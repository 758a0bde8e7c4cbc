using Microsoft.Extensions.Options;
using OrleansDiffusion.Api;
using OrleansDiffusion.Hosting;

var builder = WebApplication.CreateBuilder(args);
var options = builder.Configuration.GetSection(DiffusionSiloOptions.Section).Get<DiffusionSiloOptions>() ?? new DiffusionSiloOptions();
try
{
    builder.AddOrleansDiffusionSilo(options);
    // The HTTP API and web page live where the coordinators (and the client gateway) are.
    if (options.HostsCoordinators) builder.Services.AddOrleansDiffusionApi(builder.Configuration);
}
catch (OptionsValidationException e)
{
    foreach (var failure in e.Failures) Console.Error.WriteLine($"error: {failure}");
    return 2;
}

var app = builder.Build();
app.MapOrleansDiffusionEndpoints();
if (options.HostsCoordinators) app.MapOrleansDiffusionApi();
await app.RunAsync();
return 0;
