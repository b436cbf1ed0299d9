"""usi.run"""
