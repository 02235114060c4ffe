from fastapi import FastAPI

from seed_service.api.routes.health import router as health_router

app = FastAPI(title="seed-service")
app.include_router(health_router)
