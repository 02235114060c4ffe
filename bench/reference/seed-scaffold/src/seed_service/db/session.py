from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from seed_service.core.config import settings

engine = create_async_engine(settings.database_url, pool_pre_ping=True)
SessionLocal = async_sessionmaker(bind=engine, expire_on_commit=False)
