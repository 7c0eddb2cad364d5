# structlog rendering JSON (event -> message, level -> level).
import structlog

structlog.configure(processors=[
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso"),
    structlog.processors.JSONRenderer(),
])
log = structlog.get_logger()
log.info("order placed", order_id="A-17", amount=12.5)
log.error("payment declined", order_id="A-17", reason="insufficient \"funds\"\n")
