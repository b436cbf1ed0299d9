"""usi.metrics"""
