// Stand-ins for the parts of UnityEngine the generated SDK uses, so the SDK
// compiles with Mono's mcs and runs outside Unity. Requests are real HTTP
// calls (System.Net); coroutines are driven by CoroutineRunner.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;

namespace UnityEngine
{
    public class YieldInstruction { }

    public sealed class WaitForSeconds : YieldInstruction
    {
        public readonly float Seconds;
        public WaitForSeconds(float seconds) { Seconds = seconds; }
    }

    public class AsyncOperation : YieldInstruction
    {
        public virtual bool isDone { get { return true; } }
    }

    public sealed class Coroutine : YieldInstruction { }

    public static class Debug
    {
        public static readonly List<string> Lines = new List<string>();
        public static void Log(object message) { Lines.Add("log: " + message); }
        public static void LogWarning(object message) { Lines.Add("warning: " + message); }
        public static void LogError(object message) { Lines.Add("error: " + message); }
    }

    public class Object { }

    public class Component : Object
    {
        readonly Dictionary<Type, Component> siblings = new Dictionary<Type, Component>();
        public T GetComponent<T>() where T : Component
        {
            Component found;
            return siblings.TryGetValue(typeof(T), out found) ? (T)found : null;
        }
        public void AddSibling(Component other) { siblings[other.GetType()] = other; }
    }

    public class Behaviour : Component { }

    public class MonoBehaviour : Behaviour
    {
        public Coroutine StartCoroutine(IEnumerator routine)
        {
            CoroutineRunner.Run(routine);
            return new Coroutine();
        }
    }

    /// <summary>Runs a coroutine to completion, as Unity's player loop would.</summary>
    public static class CoroutineRunner
    {
        public static readonly List<float> Waits = new List<float>();

        public static void Run(IEnumerator routine)
        {
            var stack = new Stack<IEnumerator>();
            stack.Push(routine);
            while (stack.Count > 0)
            {
                var top = stack.Peek();
                if (!top.MoveNext()) { stack.Pop(); continue; }
                var current = top.Current;
                var wait = current as WaitForSeconds;
                var operation = current as AsyncOperation;
                var nested = current as IEnumerator;
                if (wait != null)
                {
                    Waits.Add(wait.Seconds);
                    Thread.Sleep((int)(wait.Seconds * 1000));
                }
                else if (operation != null)
                {
                    while (!operation.isDone) Thread.Sleep(1);
                }
                else if (nested != null)
                {
                    stack.Push(nested);
                }
            }
        }
    }
}

namespace UnityEngine.Networking
{
    public class UnityWebRequestAsyncOperation : AsyncOperation
    {
        public UnityWebRequest webRequest;
    }

    public class DownloadHandler : IDisposable
    {
        public byte[] data;
        public string text { get { return data == null ? null : Encoding.UTF8.GetString(data); } }
        public void Dispose() { }
    }

    public class DownloadHandlerBuffer : DownloadHandler { }

    public class UploadHandler : IDisposable
    {
        public byte[] data;
        public void Dispose() { }
    }

    public class UploadHandlerRaw : UploadHandler
    {
        public UploadHandlerRaw(byte[] body) { data = body; }
    }

    public class UnityWebRequest : IDisposable
    {
        public enum Result { InProgress, Success, ConnectionError, ProtocolError, DataProcessingError }

        public string url;
        public string method;
        public int timeout;
        public DownloadHandler downloadHandler;
        public UploadHandler uploadHandler;
        public long responseCode;
        public Result result = Result.InProgress;
        public string error;
        readonly Dictionary<string, string> requestHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        readonly Dictionary<string, string> responseHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public UnityWebRequest(string url, string method)
        {
            this.url = url;
            this.method = method;
        }

        public void SetRequestHeader(string name, string value) { requestHeaders[name] = value; }

        public string GetResponseHeader(string name)
        {
            string value;
            return responseHeaders.TryGetValue(name, out value) ? value : null;
        }

        public Dictionary<string, string> GetResponseHeaders() { return responseHeaders; }

        public UnityWebRequestAsyncOperation SendWebRequest()
        {
            Perform();
            return new UnityWebRequestAsyncOperation { webRequest = this };
        }

        void Perform()
        {
            var request = (HttpWebRequest)WebRequest.Create(url);
            request.Method = method;
            request.AllowAutoRedirect = false;
            if (timeout > 0) request.Timeout = request.ReadWriteTimeout = timeout * 1000;
            foreach (var pair in requestHeaders)
            {
                if (string.Equals(pair.Key, "Content-Type", StringComparison.OrdinalIgnoreCase)) request.ContentType = pair.Value;
                else if (string.Equals(pair.Key, "Accept", StringComparison.OrdinalIgnoreCase)) request.Accept = pair.Value;
                else if (string.Equals(pair.Key, "User-Agent", StringComparison.OrdinalIgnoreCase)) request.UserAgent = pair.Value;
                else request.Headers[pair.Key] = pair.Value;
            }
            try
            {
                if (uploadHandler != null && uploadHandler.data != null)
                {
                    request.ContentLength = uploadHandler.data.Length;
                    using (var stream = request.GetRequestStream()) stream.Write(uploadHandler.data, 0, uploadHandler.data.Length);
                }
                else if (method == "POST" || method == "PUT" || method == "PATCH")
                {
                    request.ContentLength = 0;
                }
                using (var response = (HttpWebResponse)request.GetResponse()) Read(response);
                result = Result.Success;
            }
            catch (WebException exc)
            {
                var response = exc.Response as HttpWebResponse;
                if (response == null)
                {
                    responseCode = 0;
                    result = Result.ConnectionError;
                    error = exc.Status == WebExceptionStatus.Timeout ? "Request timeout" : exc.Message;
                    return;
                }
                using (response) Read(response);
                result = Result.ProtocolError;
                error = "HTTP/1.1 " + responseCode;
            }
        }

        void Read(HttpWebResponse response)
        {
            responseCode = (long)response.StatusCode;
            foreach (string name in response.Headers.AllKeys) responseHeaders[name] = response.Headers[name];
            using (var body = response.GetResponseStream())
            using (var copy = new MemoryStream())
            {
                body.CopyTo(copy);
                if (downloadHandler != null) downloadHandler.data = copy.ToArray();
            }
        }

        public void Dispose() { }
    }
}
