//! A scripted EC2/STS query-API endpoint on loopback, for what moto cannot play:
//! several pages, throttling, denials, hangs, and checking how requests are signed.
//! It answers each request with what the test's handler says and records it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request the stub received.
#[derive(Debug, Clone)]
pub(crate) struct StubRequest {
    /// The form parameters (`Action`, `Owner.1`, `NextToken`…), decoded.
    pub(crate) params: BTreeMap<String, String>,
    /// The headers, names lower-cased.
    pub(crate) headers: BTreeMap<String, String>,
}

impl StubRequest {
    /// A form parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// `Action`.
    pub(crate) fn action(&self) -> &str {
        self.param("Action").unwrap_or_default()
    }
}

/// What the stub does with a request.
pub(crate) enum Reply {
    /// Answers with this status and XML body.
    Xml(u16, String),
    /// Never answers.
    Hang,
}

type Handler = dyn Fn(&StubRequest) -> Reply + Send + Sync;

/// The running stub; it stops when dropped.
pub(crate) struct Stub {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<StubRequest>>>,
    task: JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    /// Listens on a free loopback port.
    pub(crate) async fn start(
        handler: impl Fn(&StubRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(serve(stream, handler, recorded));
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    /// The requests so far, in order.
    pub(crate) fn requests(&self) -> Vec<StubRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests whose `Action` is `action`.
    pub(crate) fn requests_for(&self, action: &str) -> Vec<StubRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.action() == action)
            .collect()
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    recorded: Arc<Mutex<Vec<StubRequest>>>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 8192];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let headers: BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[body_start..body_start + length]).into_owned();
    let request = StubRequest {
        params: parse_form(&body),
        headers,
    };
    recorded.lock().unwrap().push(request.clone());
    match handler(&request) {
        Reply::Hang => std::future::pending::<()>().await,
        Reply::Xml(status, xml) => {
            let response = format!(
                "HTTP/1.1 {status} Stub\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{xml}",
                xml.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// An EC2 error reply.
pub(crate) fn ec2_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Xml(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>stub</RequestID></Response>"
        ),
    )
}

/// An STS error reply.
pub(crate) fn sts_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>stub</RequestId></ErrorResponse>"
        ),
    )
}

/// A successful AssumeRole reply with these temporary keys.
pub(crate) fn assume_role_reply(access_key: &str, secret: &str, token: &str) -> Reply {
    Reply::Xml(
        200,
        format!(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <AssumeRoleResult><Credentials><AccessKeyId>{access_key}</AccessKeyId>\
             <SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>\
             <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
             <AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/deployer/lxpack</Arn>\
             <AssumedRoleId>AROASTUB:lxpack</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
             <ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></AssumeRoleResponse>"
        ),
    )
}

/// An image in a DescribeImages reply.
pub(crate) struct StubImage<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) created: &'a str,
    pub(crate) state: &'a str,
    pub(crate) tags: &'a [(&'a str, &'a str)],
}

impl<'a> StubImage<'a> {
    /// An available x86_64 image tagged Debian 12.
    pub(crate) fn debian(id: &'a str, name: &'a str, created: &'a str) -> Self {
        Self {
            id,
            name,
            created,
            state: "available",
            tags: &[("os_family", "debian"), ("os_release", "12")],
        }
    }
}

/// A DescribeImages page.
pub(crate) fn images_page(images: &[StubImage<'_>], next_token: Option<&str>) -> Reply {
    let mut xml = String::from(
        "<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>stub</requestId><imagesSet>",
    );
    for image in images {
        xml.push_str(&format!(
            "<item><imageId>{}</imageId><imageState>{}</imageState><name>{}</name>\
             <creationDate>{}</creationDate><architecture>x86_64</architecture>\
             <imageOwnerId>123456789012</imageOwnerId><tagSet>",
            image.id, image.state, image.name, image.created
        ));
        for (key, value) in image.tags {
            xml.push_str(&format!(
                "<item><key>{key}</key><value>{value}</value></item>"
            ));
        }
        xml.push_str("</tagSet></item>");
    }
    xml.push_str("</imagesSet>");
    if let Some(token) = next_token {
        xml.push_str(&format!("<nextToken>{token}</nextToken>"));
    }
    xml.push_str("</DescribeImagesResponse>");
    Reply::Xml(200, xml)
}
