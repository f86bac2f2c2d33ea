# Seed tutorial 003, "进程池 代码示例二".  Unchanged.
#encoding=utf-8

from multiprocessing import Pool

def f(x):
    return x * x

if __name__ == '__main__':
    pool = Pool(processes = 4)      # start 4 worker processes
    result = pool.apply_async(f, [10])  # 只能创建一个任务,且执行一次,可以传多个参数,根据函数的参数来定
    print(result)  #ApplyResult object
    print(result.get(timeout = 1))   #获取值
    print(pool.map(f, range(10)))
