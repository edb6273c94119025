// Drives the generated Unity SDK outside Unity and prints one JSON object per
// check, which the Python tests read. Usage: SdkCheck.exe MODE BASE_URL [KEY_ID SECRET]
using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using Jupiter.VR;
using UnityEngine;

public static class SdkCheck
{
    public static int Main(string[] args)
    {
        var mode = args[0];
        var client = new JupiterVRClient();
        client.Initialize(args.Length > 2 ? args[2] : "jptr_test", args.Length > 3 ? args[3] : new string('a', 64), args.Length > 1 ? args[1] : null);
        var result = new Dictionary<string, object>();
        if (mode == "methods") result["methods"] = Methods();
        else if (mode == "json") result = RoundTrip();
        else if (mode == "get") Record(result, "get", Timed(client, client.GetUsage));
        else if (mode == "post") Record(result, "post", Timed(client, cb => client.CreateVRSession("{\"user_id\": \"u1\", \"environment\": \"lab\"}", cb)));
        else if (mode == "offline") { client.MaxRetries = 1; Record(result, "offline", Timed(client, client.GetUsage)); }
        else if (mode == "live") Live(client, result);
        else { Console.Error.WriteLine("unknown mode " + mode); return 2; }
        result["waits"] = CoroutineRunner.Waits.Select(w => (object)(double)w).ToList();
        Console.WriteLine(JupiterJson.Serialize(result));
        return 0;
    }

    static List<object> Methods()
    {
        return typeof(JupiterVRClient).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.ReturnType == typeof(IEnumerator)).Select(m => (object)m.Name).Distinct().ToList();
    }

    static Dictionary<string, object> RoundTrip()
    {
        var text = "{\"a\": {\"b\": [1, 2.5, \"x\\u00e9\\n\", true, null, {\"c\": {}}]}, \"n\": -12}";
        var parsed = (Dictionary<string, object>)JupiterJson.Parse(text);
        var nested = (List<object>)((Dictionary<string, object>)parsed["a"])["b"];
        return new Dictionary<string, object>
        {
            { "serialized", JupiterJson.Serialize(parsed) },
            { "first_is_long", nested[0] is long },
            { "second_is_double", nested[1] is double },
            { "string", nested[2] },
            { "negative", parsed["n"] },
        };
    }

    static KeyValuePair<JupiterResponse, double> Timed(JupiterVRClient client, Func<Action<JupiterResponse>, IEnumerator> call)
    {
        JupiterResponse outcome = null;
        var watch = Stopwatch.StartNew();
        client.StartCoroutine(call(response => outcome = response));
        return new KeyValuePair<JupiterResponse, double>(outcome, watch.Elapsed.TotalSeconds);
    }

    static void Record(Dictionary<string, object> result, string name, KeyValuePair<JupiterResponse, double> timed)
    {
        var response = timed.Key;
        result[name] = new Dictionary<string, object>
        {
            { "ok", response.Ok },
            { "status", response.Status },
            { "retries", response.Retries },
            { "seconds", timed.Value },
            { "idempotency_key", response.IdempotencyKey },
            { "request_id", response.RequestId },
            { "data", response.Data },
            { "error_type", response.Error == null ? null : response.Error.GetType().Name },
            { "error_code", response.Error == null ? null : response.Error.Code },
            { "error_request_id", response.Error == null ? null : response.Error.RequestId },
        };
    }

    static void Live(JupiterVRClient client, Dictionary<string, object> result)
    {
        Record(result, "threats", Timed(client, cb => client.GetThreats(cb, 50)));
        Record(result, "session", Timed(client, cb => client.CreateVRSession(
            new Dictionary<string, object> { { "user_id", "unity_player_1" }, { "environment", "threat_visualization" } }, cb)));
        Record(result, "analytics", Timed(client, cb => client.GetAnalytics("threat_count", "24h", cb)));
        Record(result, "missing", Timed(client, cb => client.GetThreat("thr_does_not_exist", cb)));
    }
}
