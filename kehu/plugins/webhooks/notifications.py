"""The e-mail the webhooks plugin sends."""

from kehu.core.mail import MailTemplate

TEMPLATES = [
    MailTemplate(
        "webhook_disabled",
        "A webhook endpoint of yours was disabled after failing for a day",
        subject={
            "zh": "Webhook 已停用：{url}",
            "en": "Webhook disabled: {url}",
        },
        body={
            "zh": "您的 Webhook 端点 {url}（编号 {id}）连续失败超过一天，已被停用。\n"
            "原因：{reason}\n\n修复接收端后，可用 updateWebhook(active: true) 或 "
            "kehu webhooks enable {id} 重新启用；停用期间的事件会补发。",
            "en": "Your webhook endpoint {url} (id {id}) failed for more than a day and was "
            "disabled.\nReason: {reason}\n\nOnce the receiver works again, re-enable it with "
            "updateWebhook(active: true) or `kehu webhooks enable {id}`; the events of the "
            "pause are delivered then.",
        },
    )
]
